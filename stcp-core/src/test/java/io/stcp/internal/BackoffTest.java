package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** The back-off's arithmetic: growth, cap, jitter, and the floor under every wait. */
class BackoffTest {
    private static final long MS = 1_000_000;

    @Test
    void backOffArithmeticStaysWithinBounds() {
        Backoff b = new Backoff(100 * MS, 3.0, 1000 * MS, 1.0);
        assertThat(b.next(0)).isEqualTo(100 * MS);
        assertThat(b.next(100 * MS)).isEqualTo(300 * MS);
        assertThat(b.next(900 * MS)).isEqualTo(1000 * MS);
        assertThat(b.next(1000 * MS)).isEqualTo(1000 * MS);
        assertThat(b.jittered(1000 * MS, 0.0)).isEqualTo(1000 * MS);
        assertThat(b.jittered(1000 * MS, 0.5)).isEqualTo(500 * MS);
        Backoff huge = new Backoff(Long.MAX_VALUE / 4, 10.0, Long.MAX_VALUE / 2, 0.0);
        assertThat(huge.next(huge.next(0))).isEqualTo(Long.MAX_VALUE / 2);
        assertThat(new Backoff(7 * MS, 1.0, 7 * MS, 0.2).next(7 * MS)).isEqualTo(7 * MS);
        assertThat((double) new Backoff(10 * MS, 2, 10 * MS, 0.2).jittered(10_000 * MS, 0.5))
                .isCloseTo(9_000 * MS, within(1.0));
    }

    /**
     * With a jitter of 1.0 the jittered wait {@code base × (1 - u)} comes as close to 0 as the
     * random value comes to 1: against a server that refuses at once, the client would dial again
     * at once. Every wait is at least 1 ms.
     */
    @Test
    void noWaitIsShorterThanOneMillisecondWhateverTheJitterDraws() {
        assertThat(Backoff.MIN_WAIT_NANOS).isEqualTo(MS);
        Backoff full = new Backoff(MS, 1.0, 30_000 * MS, 1.0);
        assertThat(full.jittered(MS, 0.999_999_9)).isEqualTo(MS);
        assertThat(full.jittered(MS, 0.5)).isEqualTo(MS);
        assertThat(full.jittered(100 * MS, 0.999_999_9)).isEqualTo(MS);
        assertThat((double) full.jittered(100 * MS, 0.98)).as("above the floor: the jitter as drawn")
                .isCloseTo(2 * MS, within(1.0));
        assertThat(full.jittered(MS / 2, 0.9)).as("a base below the floor is not raised above itself").isEqualTo(MS / 2);
    }
}
