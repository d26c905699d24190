package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.AcceptException;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;
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
}
