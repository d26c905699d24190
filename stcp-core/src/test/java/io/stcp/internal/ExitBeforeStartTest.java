package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.CloseReason;
import io.stcp.QueueSender;
import io.stcp.ServerConfig;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.hamcrest.Matchers;
import org.junit.jupiter.api.Test;

/**
 * A connection a server accepts while it is ending gets its exit before its start. Nothing of the
 * user's runs for it then: the sender factory, which might wait for something the exit took away
 * and which no interrupt could reach (no reader thread existed at the exit), is not called, and so
 * neither hook runs. The connection still ends, once, with its reason.
 */
class ExitBeforeStartTest {

    @Test
    void anExitBeforeStartCallsNoFactoryAndNoHook() throws Exception {
        RealConnection c = connection();
        CountDownLatch never = new CountDownLatch(1);
        AtomicInteger factoryCalls = new AtomicInteger();
        AtomicInteger hookCalls = new AtomicInteger();
        AtomicInteger exited = new AtomicInteger();
        RealConnectionRunner runner = RealConnectionRunner.of(c, (sender, conn) -> conn.readInt(), conn -> {
            factoryCalls.incrementAndGet();
            never.await(); // as a factory waiting for a resource might
            return QueueSender.create(conn, 8);
        }, exited::incrementAndGet);
        runner.addStartHook(s -> hookCalls.incrementAndGet());
        runner.addExitHook(s -> hookCalls.incrementAndGet());
        try {
            runner.exit(CloseReason.SHUTDOWN);
            runner.start();

            assertThat(runner.awaitExit(Duration.ofSeconds(10))).as("ended, not waiting in the factory").isTrue();
            assertThat(factoryCalls).hasValue(0);
            assertThat(hookCalls).hasValue(0);
            // the server's callback runs after the exit that awaitExit sees, on the runner's thread
            Awaitility.await("the exit callback").atMost(Duration.ofSeconds(10)).untilAtomic(exited, Matchers.equalTo(1));
            assertThat(c.closeReason()).isEqualTo(CloseReason.SHUTDOWN);
            assertThat(c.isOpen()).isFalse();
        } finally {
            never.countDown(); // a factory called all the same must not be left waiting
            c.close();
            assertThat(runner.awaitExit(Duration.ofSeconds(10))).isTrue();
        }
    }

    @Test
    void anExitWhileTheFactoryWaitsInterruptsIt() throws Exception {
        RealConnection c = connection();
        CountDownLatch inFactory = new CountDownLatch(1);
        AtomicInteger interrupted = new AtomicInteger();
        RealConnectionRunner runner = RealConnectionRunner.of(c, (sender, conn) -> conn.readInt(), conn -> {
            inFactory.countDown();
            try {
                new CountDownLatch(1).await();
            } catch (InterruptedException e) {
                interrupted.incrementAndGet();
                throw e;
            }
            return QueueSender.create(conn, 8);
        }, () -> {});
        try {
            runner.start();
            assertThat(inFactory.await(10, TimeUnit.SECONDS)).isTrue();
            runner.exit(CloseReason.SHUTDOWN);

            assertThat(runner.awaitExit(Duration.ofSeconds(10))).isTrue();
            assertThat(interrupted).hasValue(1);
            assertThat(c.closeReason()).isEqualTo(CloseReason.SHUTDOWN);
        } finally {
            c.close();
            assertThat(runner.awaitExit(Duration.ofSeconds(10))).isTrue();
        }
    }

    private static RealConnection connection() {
        ConnectionContext context = new ConnectionContext(Sweeper.SHARED, null, Transports.sourceOrNull(), ExitLog.SHARED,
                Nanos.timeout(ServerConfig.DEFAULT_WRITE_TIMEOUT), 0, 0, Nanos.timeout(ServerConfig.DEFAULT_FRAME_TIMEOUT),
                List.of());
        MemoryTransport memory = new MemoryTransport();
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", 1);
        return new RealConnection(null, address, address, true, context, x -> memory);
    }
}
