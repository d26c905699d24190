package io.stcp.internal;

import static io.stcp.internal.ArrayGrowthTest.assertTheSecondGrowsOnceTheFirstIsRead;
import static io.stcp.internal.ArrayGrowthTest.growAsync;
import static io.stcp.internal.ArrayGrowthTest.holding;
import static io.stcp.internal.ArrayGrowthTest.waitingAsync;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.stcp.TlsConfig;
import io.stcp.framing.FrameTooLongException;
import io.stcp.testing.TestCerts;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Over TLS, a step cut into the inbound budget's last tenth while every value holding bytes waits
 * ({@link InboundBudget}, "No wait for each other") goes there with the plain bytes its peer has
 * sent that the TLS layer has decrypted, not with the encrypted bytes it has received: those may
 * decrypt to far fewer (a record of one byte is 23 long), and the tenth would be held for plain
 * bytes never sent. The TLS layer's count does not depend on the transport below: a TCP socket
 * read as the JDK transport does, whose {@code available()} tells what the socket holds.
 *
 * <p>In both cases: 10 MiB; two values hold 4.5 MiB each, nine tenths; the second waits for more;
 * the first's array is full, and its peer (over TLS) has sent more.
 */
class InboundBudgetTlsTest {
    private static final int RECORD = 16 * 1024; // the most plain bytes a record carries
    private static final int ONE_BYTE_RECORDS = 256;
    private static final int FULL = (9 << 19) + ConnectionInput.BUFFER_SIZE;

    /**
     * The peer has sent a full record, and 256 bytes a byte a record (some 6 KiB encrypted); the
     * reader has read a byte of the full record, whose rest is decrypted and unread, and the
     * socket holds the small records. The first's step is cut to the decrypted bytes; the old code
     * cut it to what the socket held, encrypted, and missed the bytes decrypted.
     */
    @Test
    void aStepCutIntoTheLastTenthCountsThePlainBytesDecrypted() throws Exception {
        try (TlsPeer peer = new TlsPeer()) {
            peer.send(RECORD);
            peer.sendOneByteRecords();
            assertThat(peer.server.read(new byte[1], 0, 1, peer.deadline)).isEqualTo(1);
            int decrypted = peer.server.availableToRead();
            assertThat(decrypted).as("decrypted, unread: the first record's rest").isBetween(RECORD / 2, RECORD - 1);
            assertThat(peer.under.available()).as("encrypted, in the socket").isGreaterThan(22 * ONE_BYTE_RECORDS);

            InboundBudget budget = new InboundBudget(10L << 20);
            ArrayGrowth first = holding(budget, 9 << 19, peer.server);
            ArrayGrowth second = holding(budget, 9 << 19);
            CompletableFuture<Void> secondGrows = waitingAsync(budget, second, (5 << 20) + ConnectionInput.BUFFER_SIZE);
            assertThat(growAsync(first, FULL, 8 << 20).get(10, TimeUnit.SECONDS)).isEqualTo(FULL + decrypted);
            assertThat(budget.peakBytes()).isEqualTo((9L << 20) + decrypted);

            assertThat(secondGrows).isNotDone();
            assertTheSecondGrowsOnceTheFirstIsRead(budget, first, second, secondGrows, 5L << 20);
        }
    }

    /**
     * The peer has sent 256 bytes a byte a record, all in the socket, none decrypted: they count
     * as none, and the step is not cut into the last tenth. Neither value has room, and the one
     * of the two holding as much that started later fails. The old code took the 6 KiB the socket
     * held into the tenth, for 256 plain bytes.
     */
    @Test
    void encryptedBytesNotDecryptedCountAsNone() throws Exception {
        try (TlsPeer peer = new TlsPeer()) {
            peer.sendOneByteRecords();

            InboundBudget budget = new InboundBudget(10L << 20);
            ArrayGrowth first = holding(budget, 9 << 19, peer.server);
            ArrayGrowth second = holding(budget, 9 << 19);
            CompletableFuture<Void> secondGrows = waitingAsync(budget, second, (5 << 20) + ConnectionInput.BUFFER_SIZE);
            CompletableFuture<Integer> firstGrows = growAsync(first, FULL, 8 << 20);
            assertThatThrownBy(() -> secondGrows.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                    .hasRootCauseInstanceOf(FrameTooLongException.class);
            assertThat(budget.peakBytes()).as("nothing of the last tenth taken").isEqualTo(9L << 20);
            second.release();
            assertThat(firstGrows.get(10, TimeUnit.SECONDS)).isGreaterThan(FULL + ONE_BYTE_RECORDS);
            first.release();
            assertThat(budget.usedBytes()).isZero();
        }
    }

    /** A TLS connection over loopback TCP, its handshake done: the client writes, the test reads the server's side. */
    private static final class TlsPeer implements AutoCloseable {
        final long deadline = Nanos.deadlineAfter(Duration.ofSeconds(30));
        final ServerSocketChannel listener = ServerSocketChannel.open();
        final SocketChannel clientChannel;
        final SocketChannel serverChannel;
        final Transport under;
        final TlsTransport client;
        final TlsTransport server;

        TlsPeer() throws Exception {
            TestCerts certs = TestCerts.get();
            RealTlsConfig serverTls = RealTlsConfig.forServer(TlsConfig.fromPem(certs.serverCert, certs.serverKey));
            RealTlsConfig clientTls = RealTlsConfig.forClient(
                    TlsConfig.clientBuilder().sslContext(certs.clientContext()).build());
            listener.bind(new InetSocketAddress("127.0.0.1", 0));
            clientChannel = SocketChannel.open(listener.getLocalAddress());
            serverChannel = listener.accept();
            under = new BlockingTransport(serverChannel, Sweeper.SHARED, () -> { });
            client = new TlsTransport(new BlockingTransport(clientChannel, Sweeper.SHARED, () -> { }),
                    clientTls.newClientEngine("localhost", 443), () -> 0);
            server = new TlsTransport(under, serverTls.newServerEngine(), () -> 0);
            MemoryPump.handshake(server, client, deadline);
        }

        /** Sends {@code bytes} in one write (a record, at most {@link #RECORD}), and waits until the server's socket holds it. */
        void send(int bytes) throws Exception {
            int before = under.available();
            write(bytes);
            await().atMost(Duration.ofSeconds(10)).until(() -> under.available() >= before + bytes);
        }

        /** Sends {@link #ONE_BYTE_RECORDS} bytes, a byte a record, and waits until the server's socket holds them all. */
        void sendOneByteRecords() throws Exception {
            int before = under.available();
            for (int i = 0; i < ONE_BYTE_RECORDS; i++) {
                write(1);
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> under.available() >= before + 22 * ONE_BYTE_RECORDS);
        }

        private void write(int bytes) throws Exception {
            client.write(new ByteBuffer[] {ByteBuffer.allocate(bytes)}, 0, 1, deadline);
        }

        @Override
        public void close() throws Exception {
            client.close();
            server.close();
            server.releaseBuffers();
            client.releaseBuffers();
            clientChannel.close();
            serverChannel.close();
            listener.close();
        }
    }
}
