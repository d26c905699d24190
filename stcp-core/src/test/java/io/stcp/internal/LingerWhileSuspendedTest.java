package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.lang.reflect.Field;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * A graceful close lingers while the peer's input is unread, so that closing does not reset the
 * connection and destroy the replies the peer has not read yet. That holds when the read loop is
 * suspended (on epoll, an idle loop holds no thread) as when its reader is blocked in a read: the
 * input that came meanwhile is read (and dropped: the application reads nothing once a graceful
 * close has begun) before the close. Closing at once instead (as a suspended
 * loop's close did, taking "no reader thread" for "nobody reads") closed the transport under it,
 * and the loop, resumed, never read that input.
 *
 * <p>To hold the input unread while the close decides, every carrier of the virtual threads is
 * kept busy by a spinning thread: neither a resumed loop, nor a blocked reader, nor the epoll poll
 * loop can run until they stop.
 */
class LingerWhileSuspendedTest {

    @Test
    void aGracefulCloseReadsTheInputThatCameWhileTheLoopWaited() throws Exception {
        AtomicReference<RealConnection> connection = new AtomicReference<>();
        AtomicInteger frames = new AtomicInteger();
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            connection.set((RealConnection) conn);
            byte[] body = conn.readBytes(conn.readInt());
            if (frames.incrementAndGet() == 1) {
                sender.put(Echo.frame(body));
            }
        }, SenderFactory.queue(8)).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendFrame(new byte[] {1});
            assertThat(client.readFrame()).containsExactly(1);
            RealConnection c = connection.get();
            Awaitility.await().atMost(Duration.ofSeconds(10))
                    .until(() -> c.readerThread() == null || c.input().isAwaitingInput()); // suspended, or blocked

            Carriers busy = Carriers.occupyAll();
            Thread closer;
            try {
                client.sendFrame(new byte[] {2});
                Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> c.transport().available() > 0);
                closer = Thread.ofPlatform().name("closer").start(() -> c.closeGracefully(Duration.ofSeconds(30)));
                Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> closer.getState() == Thread.State.TIMED_WAITING
                        || closer.getState() == Thread.State.TERMINATED); // lingering, or closed without
            } finally {
                busy.release();
            }

            client.socket().shutdownOutput();
            closer.join(Duration.ofSeconds(10));
            assertThat(closer.isAlive()).isFalse();
            assertThat(c.input().isEndOfStream()).as("the input read to its end, not closed under it").isTrue();
            assertThat(frames).as("frames the application read: none once the close began").hasValue(1);
            assertThat(client.awaitClosedByServer()).isTrue();
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * A loop that gives up a suspension because input came before it was armed goes on on its own
     * thread: it counts as awaiting input until it is the reader thread again, so a close that
     * decides meanwhile lingers for that input instead of taking "no reader thread, not awaiting
     * input" for "nobody reads". The test holds the loop's monitor, which the thread takes to
     * become the reader again, to stop it there while the close decides.
     */
    @Test
    void aGracefulCloseLingersWhileALoopThatGaveUpItsSuspensionBecomesTheReaderAgain() throws Exception {
        MemoryTransport memory = new MemoryTransport();
        CountDownLatch registering = new CountDownLatch(1);
        CountDownLatch goOn = new CountDownLatch(1);
        AtomicReference<Thread> loopThread = new AtomicReference<>();
        Transport transport = new ForwardingTransport(memory) {
            private boolean first = true; // reader threads only, one at a time

            @Override
            public boolean tellsReadiness() {
                return true;
            }

            /** Until then, empty means not readable, so the loop goes to suspend; after, read() waits. */
            @Override
            public boolean isReadable() {
                return !first || memory.available() > 0;
            }

            /** The first time, the next frame comes just as the loop registers its suspension: read instead. */
            @Override
            public boolean onReadable(Runnable action) {
                if (first) {
                    first = false;
                    memory.feed(Echo.frame(new byte[] {2}));
                    loopThread.set(Thread.currentThread());
                    registering.countDown();
                    try {
                        goOn.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                return false;
            }

            @Override
            public String name() {
                return "memory, readiness";
            }
        };
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", 1);
        RealConnection c = new RealConnection(null, address, address, true, ConnectionContext.standalone(), x -> transport);
        AtomicInteger frames = new AtomicInteger();
        RealConnectionRunner runner = RealConnectionRunner.of(c, (sender, conn) -> {
            conn.readBytes(conn.readInt());
            frames.incrementAndGet();
        }, SenderFactory.queue(8), () -> {});
        memory.feed(Echo.frame(new byte[] {1}));
        runner.start();
        assertThat(registering.await(10, TimeUnit.SECONDS)).isTrue();

        Field loopField = RealConnectionRunner.class.getDeclaredField("loop");
        loopField.setAccessible(true);
        Object loop = loopField.get(runner);
        Thread closer;
        synchronized (loop) { // the loop's thread stops where it takes it to become the reader again
            goOn.countDown();
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> loopThread.get().getState() == Thread.State.BLOCKED);
            closer = Thread.ofPlatform().name("closer").start(() -> c.closeGracefully(Duration.ofSeconds(30)));
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> closer.getState() == Thread.State.TIMED_WAITING
                    || closer.getState() == Thread.State.TERMINATED); // lingering, or closed without
        }

        memory.endInput();
        closer.join(Duration.ofSeconds(10));
        assertThat(closer.isAlive()).isFalse();
        assertThat(c.input().isEndOfStream()).as("the input read to its end, not closed under it").isTrue();
        assertThat(frames).as("frames the application read: none once the close began").hasValue(1);
        assertThat(runner.awaitExit(Duration.ofSeconds(10))).isTrue();
    }

    /** One spinning virtual thread per carrier, so that no other virtual thread runs until {@link #release()}. */
    private static final class Carriers {
        private final List<Thread> spinners = new ArrayList<>();
        private volatile boolean spin = true;

        static Carriers occupyAll() throws InterruptedException {
            int count = Integer.getInteger("jdk.virtualThreadScheduler.parallelism", Runtime.getRuntime().availableProcessors());
            Carriers c = new Carriers();
            CountDownLatch running = new CountDownLatch(count);
            for (int i = 0; i < count; i++) {
                c.spinners.add(Thread.ofVirtual().name("spinner-" + i).start(() -> {
                    running.countDown();
                    while (c.spin) {
                        Thread.onSpinWait();
                    }
                }));
            }
            running.await();
            return c;
        }

        void release() throws InterruptedException {
            spin = false;
            for (Thread t : spinners) {
                t.join();
            }
        }
    }
}
