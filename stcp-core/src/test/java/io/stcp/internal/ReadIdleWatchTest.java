package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ConnectionReader;
import io.stcp.ReadTimeoutException;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.testing.Echo;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * The read timeout of a read loop that waits with no thread is counted by the sweeper
 * ({@link ReadIdleWatch}): the loop is resumed, never early, its read throws the timeout once (not
 * if input came meanwhile), and the watch follows the timeout the suspensions have. The readers
 * set their timeout once they are past the point a stalled test thread could make it pass early.
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

    private static void await(Callable<Boolean> condition) {
        Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(1)).until(condition);
    }

    @Test
    void aSuspendedLoopIsResumedByItsReadTimeoutNeverEarlyAndItsReadThrowsIt() throws Exception {
        RealConnection c = connection(0);
        AtomicInteger frames = new AtomicInteger();
        AtomicLong firstFrameRead = new AtomicLong();
        List<String> timeouts = new CopyOnWriteArrayList<>();
        List<Long> timedOutAt = new CopyOnWriteArrayList<>();
        RealConnectionRunner runner = RealConnectionRunner.of(c, (sender, conn) -> {
            try {
                conn.readBytes(conn.readInt());
                if (frames.incrementAndGet() == 1) {
                    conn.readTimeout(Duration.ofMillis(300)); // for the suspensions from here on
                    firstFrameRead.set(System.nanoTime());
                }
            } catch (ReadTimeoutException e) {
                timedOutAt.add(System.nanoTime());
                timeouts.add(e.getMessage());
            }
        }, SenderFactory.queue(8), () -> {});
        try {
            runner.start();
            transport.feed(Echo.frame(new byte[] {1}));
            await(() -> !timeouts.isEmpty());
            assertThat(timeouts.get(0)).isEqualTo("no data within the read timeout of 300ms");
            assertThat(timedOutAt.get(0) - firstFrameRead.get()).as("never early")
                    .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(300));
            assertThat(transport.waits()).as("it waited suspended, not in a read").isZero();

            transport.feed(Echo.frame(new byte[] {2})); // read, whether it finds the loop suspended or just resumed
            await(() -> frames.get() == 2);
            assertThat(c.isOpen()).isTrue();
        } finally {
            c.close();
            assertThat(runner.awaitExit(Duration.ofSeconds(10))).isTrue();
        }
    }

    /** As a read that waited out the timeout would: a reader that catches it and reads again in the same call waits anew. */
    @Test
    void aReaderThatCatchesTheTimeoutAndReadsAgainInTheSameCallWaitsAnew() throws Exception {
        RealConnection c = connection(0);
        AtomicInteger frames = new AtomicInteger();
        AtomicInteger timeouts = new AtomicInteger();
        ConnectionReader reader = (sender, conn) -> {
            if (frames.get() == 0) {
                conn.readBytes(conn.readInt());
                frames.incrementAndGet();
                conn.readTimeout(Duration.ofMillis(100)); // the next suspension times out
                return;
            }
            try {
                conn.readInt();
            } catch (ReadTimeoutException e) {
                timeouts.incrementAndGet();
                conn.readTimeout(Duration.ofSeconds(30)); // a second throw would be the old flag's, not a wait's
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

    /**
     * A frame whose first bytes come just as the read timeout ends the suspension is read whole:
     * the wait for its rest is a wait anew, not the timeout the suspension ran into. The reader
     * feeds those first bytes itself, in the call the timeout began, so the order is certain.
     */
    @Test
    void inputThatComesAsTheTimeoutPassesIsReadAndTheRestOfItsFrameWaitedFor() throws Exception {
        RealConnection c = connection(0);
        byte[] second = Echo.frame(new byte[] {2, 2, 2, 2});
        AtomicInteger frames = new AtomicInteger();
        AtomicInteger timeouts = new AtomicInteger();
        ConnectionReader reader = (sender, conn) -> {
            try {
                if (frames.get() == 1) { // the call the timeout began: nothing had come
                    conn.readTimeout(Duration.ofSeconds(30));
                    transport.feed(Arrays.copyOf(second, 4)); // the header comes now; the rest later
                }
                conn.readBytes(conn.readInt());
                if (frames.incrementAndGet() == 1) {
                    conn.readTimeout(Duration.ofMillis(100));
                }
            } catch (ReadTimeoutException e) {
                timeouts.incrementAndGet();
            }
        };
        RealConnectionRunner runner = RealConnectionRunner.of(c, reader, SenderFactory.queue(8), () -> {});
        try {
            runner.start();
            transport.feed(Echo.frame(new byte[] {1}));
            await(() -> transport.waits() == 1); // the second frame's reader waits for its rest
            transport.feed(Arrays.copyOfRange(second, 4, second.length));
            await(() -> frames.get() == 2 || timeouts.get() > 0);
            assertThat(timeouts.get()).isZero();
            assertThat(frames.get()).isEqualTo(2);
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
