package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.internal.ConnectionChannel;
import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.FutureTask;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * An application thread reads and writes through {@code Connection.channel()} and is interrupted:
 * with an interrupt pending when it calls, and again and again while it calls. The JDK channel under
 * it must not close behind the transport's back — on epoll stcp makes its own system calls on that
 * channel's descriptor, whose number the kernel would give to the next socket it opens, another
 * client's. On a non-blocking channel (every transport but the JDK's TCP sockets) the JDK closes a
 * channel on an interrupt only in a call that may block, so the connection stays usable: what the
 * thread wrote arrives, stcp's own reads and writes go on, and it ends only through its own close,
 * once. On the JDK's blocking sockets the interrupt closes the socket, as the JDK's channel does,
 * and the connection ends, {@link CloseReason#CLOSED}, once (the JDK defers that close until its
 * own calls under way have returned, and stcp makes none of its own there). Either way the next client gets its own bytes only.
 */
class ChannelInterruptTest {
    private static final int CALLS = 500;

    @Test
    void interruptingAThreadThatReadsOrWritesThroughTheChannelLeavesTheSocketToTheConnection() throws Exception {
        BlockingQueue<Connection> started = new LinkedBlockingQueue<>();
        BlockingQueue<CloseReason> exits = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().readIdleTimeout(Duration.ofSeconds(30)).build(),
                        Echo.READER, SenderFactory.queue(16))
                .onConnectionStart(s -> started.add(s.connection()))
                .onConnectionExit(s -> exits.add(s.connection().closeReason())).start();
        try {
            CloseReason aEnded = null;
            try (TestClient a = TestClient.connect(server.address())) {
                assertThat(a.roundTrip(new byte[] {1})).containsExactly(1); // the reader waits for the next frame
                Connection conn = started.poll(10, TimeUnit.SECONDS);
                SocketChannel channel = conn.channel();
                SocketChannel jdk = ((ConnectionChannel) channel).jdkChannel();
                if (channel.isBlocking()) {
                    Throwable thrown = onAnotherThread(() -> {
                        Thread.currentThread().interrupt();
                        channel.write(ByteBuffer.wrap(Echo.frame(new byte[] {5})));
                    });
                    assertThat(thrown).as("the JDK's blocking channel closes on the interrupt")
                            .isInstanceOf(ClosedByInterruptException.class);
                    aEnded = exits.poll(10, TimeUnit.SECONDS);
                    assertThat(aEnded).as("the connection ends, its socket closed").isEqualTo(CloseReason.CLOSED);
                    assertThat(a.awaitClosedByServer()).isTrue();
                } else {
                    assertThat(onAnotherThread(() -> {
                        Thread.currentThread().interrupt();
                        assertThat(channel.write(ByteBuffer.wrap(Echo.frame(new byte[] {5})))).isEqualTo(5);
                        assertThat(Thread.currentThread().isInterrupted()).as("still pending").isTrue();
                    })).as("an interrupt pending at the write").isNull();
                    assertThat(jdk.isOpen()).isTrue();
                    assertThat(a.readFrame()).containsExactly(5);

                    assertThat(interruptedWhile(() -> {
                        ByteBuffer dst = ByteBuffer.allocate(16);
                        ByteBuffer[] dsts = {ByteBuffer.allocate(8), ByteBuffer.allocateDirect(8)};
                        for (int i = 0; i < CALLS; i++) {
                            assertThat(channel.read(dst)).as("nothing sent").isZero();
                            assertThat(channel.read(dsts, 0, 2)).isZero();
                        }
                    })).as("interrupted while reading").isNull();
                    assertThat(jdk.isOpen()).isTrue();

                    assertThat(interruptedWhile(() -> {
                        for (int i = 0; i < CALLS; i++) {
                            assertThat(channel.write(ByteBuffer.wrap(Echo.frame(new byte[] {6})))).isEqualTo(5);
                            ByteBuffer[] srcs = {ByteBuffer.wrap(Echo.frame(new byte[] {7}))};
                            assertThat(channel.write(srcs, 0, 1)).isEqualTo(5);
                        }
                    })).as("interrupted while writing").isNull();
                    assertThat(jdk.isOpen()).isTrue();
                    for (int i = 0; i < CALLS; i++) {
                        assertThat(a.readFrame()).containsExactly(6);
                        assertThat(a.readFrame()).containsExactly(7);
                    }

                    assertThat(a.roundTrip(new byte[] {8})).as("stcp's reads and writes go on").containsExactly(8);
                    assertThat(conn.isOpen()).isTrue();
                    assertThat(exits).isEmpty();
                }
            }
            if (aEnded == null) {
                assertThat(exits.poll(10, TimeUnit.SECONDS)).as("ends through its own close, when its peer closes")
                        .isEqualTo(CloseReason.PEER_CLOSED);
            }
            try (TestClient b = TestClient.connect(server.address())) {
                for (int i = 0; i < 3; i++) {
                    assertThat(b.roundTrip(new byte[] {9})).as("B gets its own echo, nothing of A's").containsExactly(9);
                }
                assertThat(b.socket().getInputStream().available()).isZero();
            }
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> server.connectionCount() == 0);
            assertThat(exits).as("each exit hook once: B's is the last").containsExactly(CloseReason.PEER_CLOSED);
            assertThat(server.stats().closed().values().stream().mapToLong(Long::longValue).sum()).isEqualTo(2);
        } finally {
            Echo.stop(server);
        }
    }

    /** An action that may throw. */
    private interface Calls {
        void run() throws Exception;
    }

    /** Runs {@code calls} on a thread of its own: what it threw, or null. */
    private static Throwable onAnotherThread(Calls calls) throws Exception {
        FutureTask<Throwable> task = new FutureTask<>(() -> {
            try {
                calls.run();
                return null;
            } catch (Throwable t) {
                return t;
            }
        });
        Thread t = Thread.ofPlatform().name("app-thread").start(task);
        try {
            return task.get(20, TimeUnit.SECONDS);
        } finally {
            t.join(10_000);
        }
    }

    /**
     * As {@link #onAnotherThread}, that thread interrupted over and over by another meanwhile, from
     * before its first call (a wait for the interrupt does not clear it) to its last.
     */
    private static Throwable interruptedWhile(Calls calls) throws Exception {
        java.util.concurrent.atomic.AtomicReference<Thread> target = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
        Thread interrupter = Thread.ofPlatform().name("interrupter").start(() -> {
            while (target.get() == null) {
                Thread.onSpinWait();
            }
            while (!done.get()) {
                target.get().interrupt();
                Thread.yield();
            }
        });
        try {
            return onAnotherThread(() -> {
                target.set(Thread.currentThread());
                while (!Thread.currentThread().isInterrupted()) { // the first interrupt has come
                    Thread.onSpinWait();
                }
                calls.run();
            });
        } finally {
            done.set(true);
            interrupter.join(10_000);
        }
    }
}
