package io.stcp.cluster.internal;

import io.stcp.cluster.ClusterConfig;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.DoubleSupplier;

/**
 * The waits between attempts at something that keeps failing: the first wait, then twice the
 * previous one after each further failure, up to a longest wait; {@link #reset()} starts again
 * from the first. {@link io.stcp.cluster.RedisBus} spaces its reconnects with one, the presence
 * thread its retries after a failed round; both from {@code reconnectDelay} to
 * {@code reconnectMaxDelay}. Not thread-safe: each belongs to one thread.
 *
 * <p><b>Jitter.</b> Each wait is shortened by a random part of up to {@link #JITTER} of it, so that
 * the nodes that lost the same Redis (it restarted) do not all dial it again, and announce all
 * their names, at the same instant: a wait of base {@code b} lies in {@code [max(min(b, 1 ms),
 * b × (1 - JITTER)), b]}. The floor ({@link ClusterConfig#MIN_RECONNECT_DELAY}) keeps a draw from
 * leaving next to no wait. The random part does not compound: the bases double as before,
 * whatever was drawn, and no wait is longer than the longest.
 */
public final class Backoff {
    /** The most a wait is shortened by, as a part of it: a fifth, as stcp's client back-off by default. */
    static final double JITTER = 0.2;
    /** The shortest wait the jitter may leave: {@link ClusterConfig#MIN_RECONNECT_DELAY} (1 ms). */
    static final long MIN_WAIT_NANOS = ClusterConfig.MIN_RECONNECT_DELAY.toNanos();

    private final long firstNanos;
    private final long maxNanos;
    private final DoubleSupplier random; // values in [0, 1)
    private long nextNanos; // the base of the next wait, before the jitter

    /** Waits of {@code first}, doubling up to {@code max} (at least {@code first}), each jittered. */
    public Backoff(Duration first, Duration max) {
        this(first, max, () -> ThreadLocalRandom.current().nextDouble()); // current(): the thread that waits
    }

    /** As {@link #Backoff(Duration, Duration)}, with the jitter drawn from {@code random} (values in [0, 1)): for tests. */
    Backoff(Duration first, Duration max, DoubleSupplier random) {
        this.firstNanos = first.toNanos();
        this.maxNanos = Math.max(firstNanos, max.toNanos());
        this.nextNanos = firstNanos;
        this.random = random;
    }

    /** The wait before the next attempt, in nanoseconds; the base of the one after it is twice as long, up to the longest. */
    public long nextNanos() {
        long base = nextNanos;
        nextNanos = base >= maxNanos / 2 ? maxNanos : base * 2;
        return jittered(base);
    }

    /** {@code base} shortened by a random part of up to {@link #JITTER} of it, to no less than the floor (nor than base). */
    private long jittered(long base) {
        double u = Math.min(Math.max(random.getAsDouble(), 0.0), 1.0);
        long floor = Math.min(base, MIN_WAIT_NANOS);
        return Math.max(floor, base - (long) (base * JITTER * u));
    }

    /** The next wait is the first again (the thing waited for has worked). */
    public void reset() {
        nextNanos = firstNanos;
    }
}
