package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ConnectionReader;
import io.stcp.ReadTimeoutException;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.testing.Echo;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * The read timeout of a read loop that waits with no thread is counted by the sweeper
 * ({@link ReadIdleWatch}): the loop is resumed, never early, its read throws the timeout once, and
 * the watch follows the timeout the suspensions have.
 */
class ReadIdleWatchTest {
    private static final InetSocketAddress ADDRESS = new InetSocketAddress("127.0.0.1", 1);

    private final Sweeper sweeper = new Sweeper("test-read-idle-sweeper");
    private final CallingBackTransport transport = new CallingBackTransport(new MemoryTransport());

    private RealConnection connection(long readTimeoutMillis) {
        ConnectionContext context = new ConnectionContext(sweeper, null, Transports.sourceOrNull(), ExitLog.SHARED,
                Nanos.timeout(ServerConfig.DEFAULT_WRITE_TIMEOUT), TimeUnit.MILLISECONDS.toNanos(readTimeoutMillis), 0,
                Nanos.timeout(ServerConfig.DEFAULT_FRAME_TIMEOUT), List.of());
        return new RealConnection(null, ADDRESS, ADDRESS, true, context, x -> transport);
    }

    private static void await(java.util.concurrent.Callable<Boolean> condition) {
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(condition);
    }

    @Test
    void aSuspendedLoopIsResumedByItsReadTimeoutNeverEarlyAndItsReadThrowsIt() throws Exception {
        RealConnection c = connection(300);
        AtomicInteger frames = new AtomicInteger();
        List<String> timeouts = new CopyOnWriteArrayList<>();
        List<Long> timedOutAt = new CopyOnWriteArrayList<>();
        RealConnectionRunner runner = RealConnectionRunner.of(c, (sender, conn) -> {
            try {
                conn.readBytes(conn.readInt());
                frames.incrementAndGet();
            } catch (ReadTimeoutException e) {
                timedOutAt.add(System.nanoTime());
                timeouts.add(e.getMessage());
            }
        }, SenderFactory.queue(8), () -> {});
        try {
            runner.start();
            long fed = System.nanoTime(); // before the suspension that times out began
            transport.feed(Echo.frame(new byte[] {1}));
            await(() -> frames.get() == 1);
            await(() -> timeouts.size() == 1);
            assertThat(timeouts.get(0)).isEqualTo("no data within the read timeout of 300ms");
            assertThat(timedOutAt.get(0) - fed).as("never early").isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(300));
            assertThat(transport.callbackRequests()).as("it waited suspended, not in a read").isGreaterThanOrEqualTo(2);

            await(transport::suspended); // waiting again, with no thread
            transport.feed(Echo.frame(new byte[] {2}));
            await(() -> frames.get() == 2);
            assertThat(c.isOpen()).isTrue();
        } finally {
            c.close();
            assertThat(runner.awaitExit(Duration.ofSeconds(10))).isTrue();
        }
    }

    /** As a read that waited out the timeout would: a reader that catches it and reads again waits anew. */
    @Test
    void aReaderThatCatchesTheTimeoutAndReadsAgainInTheSameCallWaitsAnew() throws Exception {
        RealConnection c = connection(200);
        AtomicInteger frames = new AtomicInteger();
        AtomicInteger timeouts = new AtomicInteger();
        ConnectionReader reader = (sender, conn) -> {
            if (frames.get() == 0) {
                conn.readBytes(conn.readInt());
                frames.incrementAndGet();
                return;
            }
            try {
                conn.readInt();
            } catch (ReadTimeoutException e) {
                timeouts.incrementAndGet();
                conn.readBytes(conn.readInt()); // waits for the frame fed once the timeout is seen
                frames.incrementAndGet();
            }
        };
        RealConnectionRunner runner = RealConnectionRunner.of(c, reader, SenderFactory.queue(8), () -> {});
        try {
            runner.start();
            transport.feed(Echo.frame(new byte[] {1}));
            await(() -> timeouts.get() == 1);
            transport.feed(Echo.frame(new byte[] {2}));
            await(() -> frames.get() == 2);
            assertThat(timeouts.get()).isEqualTo(1);
            assertThat(c.isOpen()).isTrue();
        } finally {
            c.close();
            assertThat(runner.awaitExit(Duration.ofSeconds(10))).isTrue();
        }
    }

    /** One watch while the timeout stays alike; a new one when it changes far; none without one. */
    @Test
    void theWatchFollowsTheReadTimeoutOfTheSuspensions() throws Exception {
        RealConnection c = connection(60_000);
        AtomicInteger frames = new AtomicInteger();
        RealConnectionRunner runner = RealConnectionRunner.of(c, (sender, conn) -> {
            try {
                conn.readBytes(conn.readInt());
                frames.incrementAndGet();
            } catch (ReadTimeoutException e) {
                // waits again, suspended
            }
        }, SenderFactory.queue(8), () -> {});
        try {
            runner.start();
            for (int i = 1; i <= 3; i++) {
                transport.feed(Echo.frame(new byte[] {(byte) i}));
                int read = i;
                await(() -> frames.get() == read && transport.suspended());
                assertThat(sweeper.size()).as("one watch for alike suspensions").isEqualTo(1);
            }
            assertThat(sweeper.tickNanos()).isEqualTo(TimeUnit.MILLISECONDS.toNanos(500));

            c.readTimeout(Duration.ofMillis(80));
            transport.feed(Echo.frame(new byte[] {4}));
            await(() -> frames.get() == 4 && transport.suspended());
            await(() -> sweeper.size() == 1 && sweeper.tickNanos() == TimeUnit.MILLISECONDS.toNanos(10));

            c.readTimeout(Duration.ZERO);
            transport.feed(Echo.frame(new byte[] {5}));
            await(() -> frames.get() == 5 && transport.suspended());
            await(() -> sweeper.size() == 0);
        } finally {
            c.close();
            assertThat(runner.awaitExit(Duration.ofSeconds(10))).isTrue();
            await(() -> sweeper.size() == 0);
        }
    }
}
