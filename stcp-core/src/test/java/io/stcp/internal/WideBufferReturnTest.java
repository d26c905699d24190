package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestClient;
import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * On a transport that tells readiness (epoll), where a connection whose peer streams reads into
 * one of the few wide buffers ({@link ReadBuffers#takeWide}): a connection that ends while its
 * reader holds one gives it back. Dropped instead, it would be lost to the others until an
 * old-generation collection. (On the JDK's blocking transport a reader holds a buffer of its own,
 * and takes none.)
 */
class WideBufferReturnTest {
    private static final int BODY = 16 * 1024;

    @Test
    void aReaderThatFailsWhileItsPeerStreamsGivesItsWideBufferBack() throws Exception {
        Set<byte[]> before = takeAllAndGiveBack();
        AtomicInteger frames = new AtomicInteger();
        AtomicInteger bufferAtFailure = new AtomicInteger();
        try (LogCapture quiet = LogCapture.of("io.stcp.connection")) {
            TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
                int length = conn.readInt();
                conn.readBytes(length);
                if (frames.incrementAndGet() == 2) { // read from its read buffer, which holds more frames
                    bufferAtFailure.set(((RealConnection) conn).input().bufferCapacity());
                    throw new IllegalStateException("the reader fails");
                }
            }, SenderFactory.queue(8)).start();
            try (TestClient client = TestClient.connect(server.address())) {
                ByteBuffer stream = ByteBuffer.allocate(16 * (4 + BODY));
                while (stream.hasRemaining()) {
                    stream.putInt(BODY).put(new byte[BODY]);
                }
                client.sendRaw(stream.array());
                assertThat(client.awaitClosedByServer()).isTrue();
            } finally {
                Echo.stop(server);
            }
        }

        assertThat(frames).hasValue(2);
        assertThat(bufferAtFailure).as("the reader's buffer when it failed")
                .hasValue(Transports.source() != null ? ReadBuffers.WIDE : ConnectionInput.BUFFER_SIZE);
        assertThat(takeAllAndGiveBack()).as("the wide buffers there were before the connection").containsAll(before);
    }

    /** Every wide buffer a take can get now (all of them, made if need be), given back after. */
    private static Set<byte[]> takeAllAndGiveBack() {
        Set<byte[]> all = Collections.newSetFromMap(new IdentityHashMap<>());
        for (byte[] b; all.size() < ReadBuffers.WIDE_COUNT && (b = ReadBuffers.takeWide()) != null; ) {
            all.add(b);
        }
        all.forEach(ReadBuffers::give);
        return all;
    }
}
