package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.AcceptException;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The accept loop's back-off and retry rules, driven through its accept and sleep seams. */
class AcceptLoopTest {

    /** Plays a script: "F" = temporary failure, "S" = success (a null channel is fine here), then closed. */
    private static final class ScriptedAcceptor implements AcceptLoop.Acceptor {
        final Deque<Character> script = new ArrayDeque<>();
        int calls;

        ScriptedAcceptor(String steps) {
            for (char c : steps.toCharArray()) {
                script.add(c);
            }
        }

        @Override
        public SocketChannel accept() throws IOException {
            calls++;
            Character step = script.poll();
            if (step == null) {
                throw new ClosedChannelException();
            }
            if (step == 'F') {
                throw new IOException("Too many open files");
            }
            return null;
        }
    }

    private final List<Long> sleeps = new ArrayList<>();
    private int accepted;

    private AcceptLoop loop(ScriptedAcceptor acceptor, Duration delay, Duration max, int maxRetry) {
        return new AcceptLoop(acceptor, ch -> accepted++, delay, max, maxRetry, sleeps::add, () -> false);
    }

    private static long us(long micros) {
        return TimeUnit.MICROSECONDS.toNanos(micros);
    }

    @Test
    void backOffDoublesFromTheFirstDelayAndNeverExceedsTheMaximum() throws Exception {
        ScriptedAcceptor acceptor = new ScriptedAcceptor("FFFFFFFFFFFFFFF");
        loop(acceptor, Duration.ofNanos(us(5)), Duration.ofMillis(50), 0).run();
        assertThat(sleeps).containsExactly(us(5), us(10), us(20), us(40), us(80), us(160), us(320), us(640),
                us(1280), us(2560), us(5120), us(10240), us(20480), us(40960), us(50000));
    }

    @Test
    void aFirstDelayNearTheMaximumIsCappedNotDoubledPastIt() throws Exception {
        // Go's loop checked the cap before doubling: 41ms -> 82ms. Never above 50ms here.
        ScriptedAcceptor acceptor = new ScriptedAcceptor("FFFF");
        loop(acceptor, Duration.ofMillis(41), Duration.ofMillis(50), 0).run();
        long ms = TimeUnit.MILLISECONDS.toNanos(1);
        assertThat(sleeps).containsExactly(41 * ms, 50 * ms, 50 * ms, 50 * ms);
    }

    @Test
    void aSuccessResetsTheDelayAndTheFailureCount() throws Exception {
        ScriptedAcceptor acceptor = new ScriptedAcceptor("FFFSFFFS");
        loop(acceptor, Duration.ofNanos(us(5)), Duration.ofMillis(50), 3).run();
        assertThat(sleeps).containsExactly(us(5), us(10), us(20), us(5), us(10), us(20));
        assertThat(accepted).isEqualTo(2);
    }

    @Test
    void maxRetryNRetriesNTimesAndGivesUpOnTheNextFailure() {
        ScriptedAcceptor acceptor = new ScriptedAcceptor("FFFFFFFFFF");
        AcceptLoop loop = loop(acceptor, Duration.ofNanos(us(5)), Duration.ofMillis(50), 3);
        assertThatThrownBy(loop::run).isInstanceOf(AcceptException.class)
                .hasMessageContaining("4 times in a row").hasMessageContaining("acceptMaxRetry=3")
                .hasRootCauseMessage("Too many open files");
        assertThat(acceptor.calls).isEqualTo(4);
        assertThat(sleeps).hasSize(3);
    }

    @Test
    void maxRetryZeroRetriesForever() throws Exception {
        ScriptedAcceptor acceptor = new ScriptedAcceptor("F".repeat(500));
        loop(acceptor, Duration.ofNanos(us(5)), Duration.ofMillis(50), 0).run();
        assertThat(sleeps).hasSize(500);
    }

    @Test
    void aClosedListenerEndsTheLoopQuietlyWithoutSleeping() throws Exception {
        ScriptedAcceptor acceptor = new ScriptedAcceptor("SS");
        loop(acceptor, Duration.ofNanos(us(5)), Duration.ofMillis(50), 1).run();
        assertThat(accepted).isEqualTo(2);
        assertThat(sleeps).isEmpty();
    }

    @Test
    void anErrorAfterCloseEndsTheLoopInsteadOfRetrying() throws Exception {
        ScriptedAcceptor acceptor = new ScriptedAcceptor("FFF");
        new AcceptLoop(acceptor, ch -> accepted++, Duration.ofNanos(us(5)), Duration.ofMillis(50), 0, sleeps::add,
                () -> true).run();
        assertThat(acceptor.calls).isEqualTo(1);
        assertThat(sleeps).isEmpty();
    }

    @Test
    void aThrowingHandlerCostsOnlyItsConnectionAndTheLoopGoesOnAccepting() throws Exception {
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             LogCapture log = LogCapture.of("io.stcp.server")) {
            InetSocketAddress address = (InetSocketAddress) listener.getLocalAddress();
            AtomicInteger calls = new AtomicInteger();
            BlockingQueue<SocketChannel> handled = new LinkedBlockingQueue<>();
            AcceptLoop loop = new AcceptLoop(listener::accept, ch -> {
                switch (calls.incrementAndGet()) {
                    case 1 -> throw new IllegalStateException("handler bug");
                    case 2 -> throw new OutOfMemoryError("unable to create a thread");
                    default -> handled.add(ch);
                }
            }, Duration.ofNanos(us(5)), Duration.ofMillis(50), 1, AcceptLoop.Sleeper.REAL, () -> false);
            AtomicReference<Throwable> ended = new AtomicReference<>();
            Thread acceptThread = Thread.ofVirtual().start(() -> {
                try {
                    loop.run();
                } catch (Throwable t) {
                    ended.set(t);
                }
            });

            for (int i = 0; i < 2; i++) {
                try (TestClient failed = TestClient.connect(address)) {
                    assertThat(failed.awaitClosedByServer()).as("connection %d closed by the loop", i + 1).isTrue();
                }
            }
            try (TestClient served = TestClient.connect(address)) {
                SocketChannel channel = handled.poll(10, TimeUnit.SECONDS);
                assertThat(channel).as("the loop still accepts after two handler failures").isNotNull();
                channel.close();
            }

            listener.close();
            acceptThread.join(10_000);
            assertThat(acceptThread.isAlive()).isFalse();
            assertThat(ended.get()).as("the loop ended normally on the closed listener").isNull();
            List<ILoggingEvent> failures = log.events("server.accept.handler.failed");
            assertThat(failures).isNotEmpty();
            assertThat(failures.get(0).getLevel().toString()).isEqualTo("WARN");
            assertThat(failures.get(0).getThrowableProxy().getMessage()).isEqualTo("handler bug");
            // The peer under the key every line gives it, as host:port; nothing held back before the first line, so no count.
            assertThat(LogCapture.fields(failures.get(0))).doesNotContainKeys("remote", "suppressed")
                    .hasEntrySatisfying("remoteAddr", a -> assertThat(a).asString().startsWith("127.0.0.1:"));
        }
    }
}
