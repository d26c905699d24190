package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestClient;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * On a transport that tells readiness (epoll), where a connection whose peer streams reads into
 * one of the few wide buffers ({@link ReadBuffers#takeWide}): a connection that ends while its
 * reader holds one gives it back. Dropped instead, it would be lost to the others until an
 * old-generation collection. (On the JDK's blocking transport a reader holds a buffer of its own,
 * and takes none.) And a read after the end, in an exit hook, fails without taking a buffer again.
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

    @Test
    void aReadInAnExitHookFailsClosedAndTakesNoBuffer() throws Exception {
        // The exit hooks run on the last reader thread after the connection's end gave its buffers
        // back. A read there took a buffer again (from the pool on epoll, a new one on the JDK's
        // transport), never given back, before it failed on the closed socket.
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicInteger bufferAfter = new AtomicInteger(-1);
        CountDownLatch exited = new CountDownLatch(1);
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8))
                .onConnectionExit(s -> {
                    try {
                        s.connection().read(new byte[16], 0, 16);
                    } catch (Throwable t) {
                        failure.set(t);
                    }
                    bufferAfter.set(((RealConnection) s.connection()).input().bufferCapacity());
                    exited.countDown();
                }).start();
        try {
            try (TestClient client = TestClient.connect(server.address())) {
                assertThat(client.roundTrip(new byte[] {7})).containsExactly(7);
            }
            assertThat(exited.await(10, TimeUnit.SECONDS)).as("the exit hook ran").isTrue();
        } finally {
            Echo.stop(server);
        }
        assertThat(failure.get()).as("the read in the exit hook").isInstanceOf(ClosedChannelException.class);
        assertThat(bufferAfter).as("the read buffer held after it").hasValue(0);
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
