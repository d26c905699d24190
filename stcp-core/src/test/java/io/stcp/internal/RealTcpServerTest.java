package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.AcceptException;
import io.stcp.ConnectionHook;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.io.IOException;
import java.net.ConnectException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** Server behaviour that needs {@link RealTcpServer}'s seam: failing accepts. */
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
    void whenTheAcceptLoopGivesUpTheServerClosesItsConnectionsAndFailsTerminationOnceTheyExited()
            throws Exception {
        FailingAcceptor acceptor = new FailingAcceptor();
        HeldExitHook exitHook = new HeldExitHook();
        RealTcpServer server = new RealTcpServer(retryTwice(), Echo.READER, SenderFactory.queue(8), acceptor);
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
        RealTcpServer server = new RealTcpServer(retryTwice(), Echo.READER, SenderFactory.queue(8), acceptor);
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
}
