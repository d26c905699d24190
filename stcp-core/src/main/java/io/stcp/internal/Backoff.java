package io.stcp.internal;

import io.stcp.ClientConfig;

/**
 * A reconnect back-off: waits that grow by a factor from an initial one up to a maximum, each
 * shortened by a random part (jitter) so that clients that lost the same server spread out.
 *
 * <p>{@link #next} gives the base wait after another failure; {@link #jittered} the wait to
 * actually sleep: {@code base × (1 - jitter × u)} for {@code u} in [0, 1), but never less than
 * {@link #MIN_WAIT_NANOS} (nor than the base, if that is shorter); so within
 * {@code [max(1 ms, base × (1 - jitter)), base]} and never above the maximum. The floor keeps a
 * jitter of 1.0 from drawing waits of next to nothing, one after another, against a server that
 * refuses at once. The jitter does not compound: the base sequence is the same whatever the
 * random values.
 */
final class Backoff {
    /** The shortest wait: {@link ClientConfig#MIN_RECONNECT_DELAY}. */
    static final long MIN_WAIT_NANOS = ClientConfig.MIN_RECONNECT_DELAY.toNanos();

    private final long initialNanos;
    private final double multiplier;
    private final long maxNanos;
    private final double jitter;

    Backoff(long initialNanos, double multiplier, long maxNanos, double jitter) {
        this.initialNanos = initialNanos;
        this.multiplier = multiplier;
        this.maxNanos = maxNanos;
        this.jitter = jitter;
    }

    /** The base wait after {@code previous} (0 = the first): the initial one, then multiplied, capped. */
    long next(long previous) {
        if (previous == 0) {
            return Math.min(initialNanos, maxNanos);
        }
        double d = previous * multiplier;
        return d >= maxNanos ? maxNanos : Math.max(previous, (long) d);
    }

    /** The wait for base {@code base}, with {@code u} a random value in [0, 1): jittered, then floored. */
    long jittered(long base, double u) {
        double r = Math.min(Math.max(u, 0.0), 1.0);
        long floor = Math.min(base, MIN_WAIT_NANOS); // a base below the floor (none from a ClientConfig) is not raised
        return Math.max(floor, base - (long) (base * jitter * r));
    }
}
