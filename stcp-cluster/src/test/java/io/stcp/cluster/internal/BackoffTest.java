package io.stcp.cluster.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The back-off's waits at the jitter's extremes: drawn from an injected source. */
class BackoffTest {
    private static final double MOST = Math.nextDown(1.0); // the largest value a random source in [0, 1) gives

    private static long ms(long millis) {
        return TimeUnit.MILLISECONDS.toNanos(millis);
    }

    private static List<Long> waits(Backoff b, int n) {
        List<Long> w = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            w.add(b.nextNanos());
        }
        return w;
    }

    @Test
    void aDrawOfZeroWaitsTheBaseExactly() {
        Backoff b = new Backoff(Duration.ofMillis(100), Duration.ofMillis(1000), () -> 0.0);
        assertThat(waits(b, 6)).containsExactly(ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000));
    }

    @Test
    void theLargestDrawTakesAFifthOffAndDoesNotCompound() {
        Backoff b = new Backoff(Duration.ofMillis(100), Duration.ofMillis(1000), () -> MOST);
        List<Long> w = waits(b, 6);
        long[] bases = {ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)};
        for (int i = 0; i < bases.length; i++) {
            // a fifth off the base each time, the base doubling as before: not 80, 128, 204... ms
            assertThat(w.get(i)).as("wait %d", i).isBetween(bases[i] - bases[i] / 5, bases[i] - bases[i] / 5 + 1_000);
        }
    }

    @Test
    void noWaitIsShorterThanTheFloorUnlessItsBaseIs() {
        Backoff b = new Backoff(Duration.ofMillis(1), Duration.ofMillis(4), () -> MOST);
        // 1 ms less a fifth would be 0.8 ms: the floor keeps it at 1 ms; 2 ms less a fifth is 1.6 ms, 4 ms 3.2 ms
        List<Long> w = waits(b, 3);
        assertThat(w.get(0)).isEqualTo(ms(1));
        assertThat(w.get(1)).isBetween(1_600_000L, 1_601_000L);
        assertThat(w.get(2)).isBetween(3_200_000L, 3_201_000L);
        Backoff tiny = new Backoff(Duration.ofNanos(500_000), Duration.ofNanos(500_000), () -> MOST);
        assertThat(tiny.nextNanos()).as("a base below the floor is not raised").isEqualTo(500_000L);
    }

    @Test
    void resetStartsFromTheFirstBaseAgain() {
        Backoff b = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(5), () -> 0.0);
        waits(b, 4);
        b.reset();
        assertThat(b.nextNanos()).isEqualTo(ms(100));
    }
}
