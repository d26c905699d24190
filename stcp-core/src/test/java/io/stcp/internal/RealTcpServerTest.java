package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.AcceptException;
import io.stcp.CloseReason;
import io.stcp.ConnectionHook;
import io.stcp.ProxyProtocol;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.testing.Echo;
import io.stcp.testing.LeakCheck;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestClient;
import java.io.IOException;
import java.net.ConnectException;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** Server behaviour that needs {@link RealTcpServer}'s seams: failing accepts, the log clock. */
class RealTcpServerTest {

    /** Accepts for real until {@link #fail} is set, then fails every accept as EMFILE would. */
    private static final class FailingAcceptor implements UnaryOperator<AcceptLoop.Acceptor> {
        final AtomicBoolean fail = new AtomicBoolean();

        @Override
        public AcceptLoop.Acceptor apply(AcceptLoop.Acceptor real) {
            return () -> {
                if (fail.get()) {
                    throw new IOException("Too many open files");
                }
                SocketChannel ch = real.accept();
                if (fail.get()) {
                    ch.close();
                    throw new IOException("Too many open files");
                }
                return ch;
            };
        }
    }

    /** An exit hook that signals when it starts and then holds the connection until released. */
    private static final class HeldExitHook implements ConnectionHook {
        final CountDownLatch started = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final AtomicBoolean done = new AtomicBoolean();

        @Override
        public void onEvent(io.stcp.Sender sender) throws InterruptedException {
            started.countDown();
            release.await(20, TimeUnit.SECONDS);
            done.set(true);
        }
    }

    private static ServerConfig retryTwice() {
        return Echo.loopback().acceptMaxRetry(2).build();
    }

    @Test
    void aConnectionWhoseThreadCannotStartStaysAcceptedAndEndsFailed() throws Exception {
        // The first connection's thread fails to start, as out of memory would; the next ones start.
        AtomicBoolean failNext = new AtomicBoolean(true);
        RealTcpServer server = new RealTcpServer(Echo.loopback().maxConn(1).build(), Echo.READER,
                SenderFactory.queue(8)).startConnectionsWith(runner -> {
                    if (failNext.getAndSet(false)) {
                        throw new OutOfMemoryError("test: unable to create native thread");
                    }
                    runner.start();
                });
        try (LogCapture accept = LogCapture.of("io.stcp.server")) {
            server.start();
            try (TestClient failed = TestClient.connect(server.address())) {
                assertThat(failed.awaitClosedByServer()).isTrue();
            }
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> server.connectionCount() == 0);
            // Counted accepted when it was let in (a snapshot may have seen that): it stays so, and ended FAILED.
            io.stcp.ServerStats after = server.stats();
            assertThat(after.accepted()).isEqualTo(1);
            assertThat(after.closed(io.stcp.CloseReason.FAILED)).isEqualTo(1);
            assertTheNextIsServed(server, accept);
        } finally {
            server.close();
        }
    }

    /**
     * After the first connection failed: its slot came back (maxConnections 1), so the next
     * connection is served, and the failure was logged once.
     */
    private static void assertTheNextIsServed(RealTcpServer server, LogCapture accept) throws Exception {
        try (TestClient next = TestClient.connect(server.address())) {
            assertThat(next.roundTrip(new byte[] {7})).containsExactly(7);
        }
        assertThat(server.stats().accepted()).isEqualTo(2);
        assertThat(accept.events("server.accept.handler.failed")).singleElement()
                // Its channel closed by then, the peer's address is unknown: no key for it (not remote=null), nor suppressed=0.
                .satisfies(e -> assertThat(LogCapture.fields(e)).doesNotContainKeys("remote", "remoteAddr", "suppressed"));
    }

    @Test
    void aConnectionThatFailsOnceOpenBeforeItsThreadStartsIsClosedAtOnceAndEndsFailed() throws Exception {
        // The first connection fails right after it was opened — on epoll its descriptor registered
        // — before its runner is made, as out of memory would; the next ones run.
        AtomicBoolean failNext = new AtomicBoolean(true);
        RealTcpServer server = new RealTcpServer(Echo.loopback().maxConn(1).build(), Echo.READER,
                SenderFactory.queue(8)).afterOpeningConnections(connection -> {
                    if (failNext.getAndSet(false)) {
                        throw new OutOfMemoryError("test: Java heap space");
                    }
                });
        try (LogCapture accept = LogCapture.of("io.stcp.server")) {
            server.start();
            long sockets = LeakCheck.openSockets(); // the listener's among them
            try (TestClient failed = TestClient.connect(server.address())) {
                long began = System.nanoTime();
                // The transport is closed, not only the JDK channel: the transport alone closes the
                // channel on epoll, once its registration is forgotten.
                assertThat(failed.awaitClosedByServer()).as("the peer sees the close").isTrue();
                assertThat(Duration.ofNanos(System.nanoTime() - began)).isLessThan(Duration.ofSeconds(5));
            }
            Awaitility.await("the connection's slot and descriptors back").pollDelay(Duration.ZERO)
                    .pollInterval(Duration.ofMillis(10)).atMost(Duration.ofSeconds(10))
                    .until(() -> server.connectionCount() == 0 && LeakCheck.openSockets() <= sockets);
            // Counted accepted once open: it ends FAILED, and the counts balance.
            io.stcp.ServerStats after = server.stats();
            assertThat(after.accepted()).isEqualTo(1);
            assertThat(after.closed(io.stcp.CloseReason.FAILED)).isEqualTo(1);
            assertThat(after.closed().values().stream().mapToLong(Long::longValue).sum()).isEqualTo(1);
            assertTheNextIsServed(server, accept);
        } finally {
            server.close();
        }
    }

    @Test
    void whenTheAcceptLoopGivesUpTheServerClosesItsConnectionsAndFailsTerminationOnceTheyExited()
            throws Exception {
        FailingAcceptor acceptor = new FailingAcceptor();
        HeldExitHook exitHook = new HeldExitHook();
        RealTcpServer server = new RealTcpServer(retryTwice(), Echo.READER, SenderFactory.queue(8), acceptor,
                System::nanoTime);
        server.onConnectionExit(exitHook).start();
        try (TestClient live = TestClient.connect(server.address())) {
            assertThat(live.roundTrip(new byte[] {1})).containsExactly(1);

            acceptor.fail.set(true);
            try (TestClient trigger = TestClient.connect(server.address())) {
                assertThat(exitHook.started.await(10, TimeUnit.SECONDS))
                        .as("the live connection is ended when the accept loop gives up").isTrue();
                assertThat(server.termination()).as("termination waits for the exit hook").isNotDone();
                assertThat(server.connectionCount()).isEqualTo(1);
                assertThat(live.awaitClosedByServer()).isTrue();
                assertThat(trigger.awaitClosedByServer()).isTrue();
            }
            assertThatThrownBy(() -> TestClient.connect(server.address()).close())
                    .as("the listener is closed").isInstanceOf(ConnectException.class);

            exitHook.release.countDown();
            assertThatThrownBy(() -> server.awaitTermination(Duration.ofSeconds(10)))
                    .isInstanceOf(AcceptException.class).hasMessageContaining("acceptMaxRetry=2")
                    .hasRootCauseMessage("Too many open files");
            assertThat(exitHook.done).as("exit hook finished before termination").isTrue();
            assertThat(server.connectionCount()).isZero();
            assertThatThrownBy(server::awaitTermination).isInstanceOf(AcceptException.class);
        } finally {
            exitHook.release.countDown();
            server.close();
        }
    }

    @Test
    void shutdownAfterTheAcceptLoopGaveUpWaitsForTheExitHooksAndReturnsFalse() throws Exception {
        FailingAcceptor acceptor = new FailingAcceptor();
        HeldExitHook exitHook = new HeldExitHook();
        RealTcpServer server = new RealTcpServer(retryTwice(), Echo.READER, SenderFactory.queue(8), acceptor,
                System::nanoTime);
        server.onConnectionExit(exitHook).start();
        try (TestClient live = TestClient.connect(server.address())) {
            assertThat(live.roundTrip(new byte[] {1})).containsExactly(1);
            acceptor.fail.set(true);
            try (TestClient trigger = TestClient.connect(server.address())) {
                assertThat(exitHook.started.await(10, TimeUnit.SECONDS)).isTrue();
            }

            AtomicReference<Object> result = new AtomicReference<>();
            AtomicBoolean hookDoneAtReturn = new AtomicBoolean();
            Thread shutdown = Thread.ofVirtual().start(() -> {
                try {
                    result.set(server.shutdown(Duration.ofMinutes(1)));
                    hookDoneAtReturn.set(exitHook.done.get());
                } catch (Throwable t) {
                    result.set(t);
                }
            });
            Awaitility.await().until(() -> shutdown.getState() == Thread.State.WAITING
                    || shutdown.getState() == Thread.State.TIMED_WAITING);
            assertThat(shutdown.isAlive()).as("shutdown waits while an exit hook runs").isTrue();

            exitHook.release.countDown();
            shutdown.join(10_000);
            assertThat(shutdown.isAlive()).as("shutdown returns without waiting out its grace").isFalse();
            assertThat(result.get()).as("not drained: the accept failure closed the connections").isEqualTo(false);
            assertThat(hookDoneAtReturn).isTrue();
            assertThatThrownBy(() -> server.awaitTermination(Duration.ofSeconds(10)))
                    .isInstanceOf(AcceptException.class);
        } finally {
            exitHook.release.countDown();
            server.close();
        }
    }

    @Test
    void aServerClosedWhileItsAcceptLoopBacksOffTerminatesAtOnceNotWhenTheBackOffEnds() throws Exception {
        FailingAcceptor acceptor = new FailingAcceptor();
        RealTcpServer server = new RealTcpServer(Echo.loopback().acceptDelay(Duration.ofMinutes(1))
                .acceptMaxDelay(Duration.ofMinutes(1)).build(), Echo.READER, SenderFactory.queue(8), acceptor,
                System::nanoTime);
        server.start();
        try (LogCapture log = LogCapture.of("io.stcp.server")) {
            acceptor.fail.set(true);
            try (TestClient trigger = TestClient.connect(server.address())) {
                // counted after the loop looked for a close, just before it sleeps its minute
                Awaitility.await().until(() -> server.stats().acceptErrors() == 1);
            }
            // Its line, written before the sleep, names the back-off as client.connect.failed does:
            // retryIn, in the config's format.
            Awaitility.await().until(() -> log.events("server.accept.retry").size() == 1);
            assertThat(LogCapture.fields(log.events("server.accept.retry").get(0))).containsEntry("retryIn", "1m0s")
                    .containsEntry("failures", 1).containsEntry("error", "java.io.IOException: Too many open files")
                    .doesNotContainKeys("delay", "suppressed");
            long start = System.nanoTime();
            assertThat(server.drain(Duration.ofSeconds(5))).as("no connection left: drained").isTrue();
            assertThat(server.termination()).isCompleted();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        } finally {
            server.close();
        }
    }

    @Test
    void rejectsWithinTenSecondsGiveOneWarnLineAndTheNextLineCountsTheSuppressedOnes() throws Exception {
        int rejects = 20;
        AtomicLong nanoTime = new AtomicLong(1_000);
        try (LogCapture log = LogCapture.of("io.stcp.server")) {
            RealTcpServer server = new RealTcpServer(Echo.loopback().maxConn(1).build(), Echo.READER,
                    SenderFactory.queue(8), UnaryOperator.identity(), nanoTime::get);
            server.start();
            try (TestClient held = TestClient.connect(server.address())) {
                assertThat(held.roundTrip(new byte[] {1})).containsExactly(1);
                // The server counts and logs (or suppresses) a reject before it closes the socket,
                // so each rejectOne returns after the limiter has seen that reject.
                for (int i = 0; i < rejects; i++) {
                    rejectOne(server);
                }
                nanoTime.addAndGet(TimeUnit.SECONDS.toNanos(10));
                rejectOne(server);
            } finally {
                Echo.stop(server);
            }

            List<ILoggingEvent> lines = log.events("server.reject");
            assertThat(lines).hasSize(2);
            assertThat(lines).allSatisfy(e -> assertThat(e.getLevel().toString()).isEqualTo("WARN"));
            Map<String, Object> first = LogCapture.fields(lines.get(0));
            // The first line stands for itself: no suppressed=0 (as conn.exit); the peer is remoteAddr (as conn.*).
            assertThat(first).containsEntry("reason", "maxConn").containsEntry("maxConn", 1)
                    .containsEntry("rejectedTotal", 1L).doesNotContainKeys("suppressed", "remote")
                    .hasEntrySatisfying("remoteAddr", a -> assertThat(a).asString().startsWith("127.0.0.1:"));
            Map<String, Object> second = LogCapture.fields(lines.get(1));
            assertThat(second).containsEntry("suppressed", (long) rejects - 1)
                    .containsEntry("rejectedTotal", (long) rejects + 1);
        }
    }

    @Test
    void refusedConnectionsExitLinesAtDebugAreLimitedAndTheNextLineCountsTheSuppressedOnes() throws Exception {
        // A PROXY header refused ends its connection REJECTED on the connection's thread, with a
        // DEBUG conn.exit line: one per peer that connects, as fast as peers connect. They are
        // limited as the failures' WARN lines are, per server and reason.
        int refusals = ExitLog.PERMITS + 15;
        AtomicLong nanoTime = new AtomicLong(1_000);
        try (LogCapture log = LogCapture.of("io.stcp.connection")) {
            RealTcpServer server = new RealTcpServer(Echo.loopback().proxyProtocol(ProxyProtocol.required("127.0.0.1/32")).build(),
                    Echo.READER, SenderFactory.queue(8), UnaryOperator.identity(), nanoTime::get);
            server.start();
            try {
                for (int i = 0; i < refusals; i++) {
                    refuseHeader(server);
                }
                nanoTime.addAndGet(TimeUnit.SECONDS.toNanos(ExitLog.INTERVAL_SECONDS));
                refuseHeader(server);
            } finally {
                Echo.stop(server);
            }

            List<ILoggingEvent> lines = log.events("conn.exit");
            assertThat(lines).hasSize(ExitLog.PERMITS + 1).allSatisfy(e -> {
                assertThat(e.getLevel().toString()).isEqualTo("DEBUG");
                assertThat(LogCapture.fields(e)).containsEntry("reason", CloseReason.REJECTED);
            });
            assertThat(LogCapture.fields(lines.get(0))).doesNotContainKey("suppressed");
            assertThat(LogCapture.fields(lines.get(ExitLog.PERMITS))).containsEntry("suppressed", (long) refusals - ExitLog.PERMITS);
        }
    }

    /** A peer whose PROXY header is refused; returns once its connection has ended, its conn.exit line written. */
    private static void refuseHeader(RealTcpServer server) throws IOException {
        long before = server.rejectedCount();
        try (TestClient c = TestClient.connect(server.address())) {
            c.sendRaw("GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(c.awaitClosedByServer()).isTrue();
        }
        assertThat(server.rejectedCount()).isEqualTo(before + 1);
        // The line comes before the slot's release: none taken, the line is written.
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> server.connectionCount() == 0);
    }

    private static void rejectOne(RealTcpServer server) throws IOException {
        long before = server.rejectedCount();
        try (TestClient c = TestClient.connect(server.address())) {
            assertThat(c.awaitClosedByServer()).isTrue();
        }
        assertThat(server.rejectedCount()).isEqualTo(before + 1);
    }
}
