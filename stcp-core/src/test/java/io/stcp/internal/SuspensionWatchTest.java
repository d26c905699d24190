package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.testing.Echo;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * The sweeper's watch of a suspended read loop's deadline lasts only while suspensions have one: a
 * suspension without a deadline lets an earlier watch go, so one near deadline (a first frame's, a
 * read deadline set once) does not keep the sweeper ticking at that watch's pace for the
 * connection's lifetime.
 */
class SuspensionWatchTest {

    @Test
    void aSuspensionWithoutADeadlineLetsTheWatchOfAnEarlierOneGo() throws Exception {
        Sweeper sweeper = new Sweeper("test-suspension-sweeper");
        ConnectionContext context = new ConnectionContext(sweeper, null, Transports.sourceOrNull(), ExitLog.SHARED,
                Nanos.timeout(ServerConfig.DEFAULT_WRITE_TIMEOUT), 0, 0, Nanos.timeout(ServerConfig.DEFAULT_FRAME_TIMEOUT),
                List.of());
        MemoryTransport memory = new MemoryTransport();
        CallingBackTransport transport = new CallingBackTransport(memory);
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", 1);
        RealConnection c = new RealConnection(null, address, address, true, context, x -> transport);
        AtomicInteger frames = new AtomicInteger();
        RealConnectionRunner runner = RealConnectionRunner.of(c, (sender, conn) -> {
            conn.readBytes(conn.readInt());
            // After the first frame a read deadline far off (the watch made for it ticks every
            // second); after the second, none.
            conn.readDeadline(frames.incrementAndGet() == 1 ? Instant.now().plusSeconds(60) : null);
        }, SenderFactory.queue(8), () -> {});
        try {
            runner.start();
            transport.feed(Echo.frame(new byte[] {1}));
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> transport.suspended() && frames.get() == 1);
            assertThat(sweeper.size()).as("the suspension's deadline is watched").isEqualTo(1);

            transport.feed(Echo.frame(new byte[] {2}));
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> transport.suspended() && frames.get() == 2);
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> sweeper.size() == 0); // at its next sweep
        } finally {
            c.close();
            assertThat(runner.awaitExit(Duration.ofSeconds(10))).isTrue();
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> sweeper.size() == 0);
        }
    }
}
