package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * {@link PrefixTransport}'s count of the bytes its reads will return ({@link Transport#availableToRead()},
 * which the inbound budget cuts a step into its last tenth with): the rest of the prefix (bytes
 * after a PROXY header, plain unless a TLS layer above reads them), then what the transport below
 * counts as such, not the bytes it has received (over a layer that decrypts, those may come to fewer).
 */
class PrefixTransportTest {
    @Test
    void itsBytesToReadAreThePrefixsRestAndThoseTheTransportBelowWillReturn() throws Exception {
        MemoryTransport socket = new MemoryTransport();
        socket.feed(new byte[100]);
        Transport below = new OverTransport(socket) {
            @Override
            public int availableToRead() {
                return 40; // of the 100 received, as a layer that turns them into fewer would count
            }
        };
        byte[] read = new byte[30]; // a 20-byte PROXY header, then 10 bytes of the stream
        Transport prefixed = PrefixTransport.of(below, read, 20, 30);
        assertThat(prefixed.availableToRead()).isEqualTo(10 + 40);
        assertThat(prefixed.available()).isEqualTo(10 + 100);

        assertThat(prefixed.read(new byte[4], 0, 4, 0)).isEqualTo(4);
        assertThat(prefixed.availableToRead()).isEqualTo(6 + 40);
        assertThat(prefixed.read(new byte[16], 0, 16, 0)).isEqualTo(6); // the prefix's rest, then the socket's
        assertThat(prefixed.availableToRead()).isEqualTo(40);
    }
}
