package io.stcp.internal;

import java.time.Duration;
import java.time.Instant;

/**
 * Saturating arithmetic on {@link System#nanoTime()} values, so that no timeout or deadline a user
 * can configure overflows. A timeout is a non-negative length where 0 means none; a deadline is a
 * {@code nanoTime} value where 0 means none. Anything longer than {@link #FOREVER} (about 73 years)
 * is treated as no limit: differences of {@code nanoTime} values stay exact below it.
 */
public final class Nanos {
    /** The longest timeout that is honoured as a timeout; longer ones mean "no limit". */
    public static final long FOREVER = Long.MAX_VALUE / 4;

    private Nanos() {}

    /** {@code d} as a timeout in nanoseconds: 0 (none) for null, zero, negative or longer than {@link #FOREVER}. */
    public static long timeout(Duration d) {
        if (d == null || d.isNegative() || d.isZero() || d.getSeconds() >= FOREVER / 1_000_000_000L) {
            return 0;
        }
        return d.toNanos();
    }

    /** A deadline {@code timeoutNanos} after {@code now}; 0 (none) when the timeout is 0. Never 0 otherwise. */
    public static long deadline(long now, long timeoutNanos) {
        if (timeoutNanos <= 0 || timeoutNanos >= FOREVER) {
            return 0;
        }
        long d = now + timeoutNanos;
        return d == 0 ? 1 : d;
    }

    /** A deadline {@code timeout} from now; 0 (none) when the timeout means none. */
    public static long deadlineAfter(Duration timeout) {
        long t = timeout(timeout);
        return t == 0 ? 0 : deadline(System.nanoTime(), t);
    }

    /**
     * The deadline of an operation given {@code timeout} to finish: now for zero or negative (no
     * time at all), 0 (none) for lengths beyond {@link #FOREVER}.
     */
    public static long within(Duration timeout) {
        long now = System.nanoTime();
        if (timeout.isNegative() || timeout.isZero()) {
            return now == 0 ? 1 : now;
        }
        long t = timeout(timeout);
        return t == 0 ? 0 : deadline(now, t);
    }

    /** The time left until {@code deadline} (0 = none: {@link #FOREVER}) as a duration, at least zero. */
    public static Duration remaining(long deadline) {
        return Duration.ofNanos(deadline == 0 ? FOREVER : left(deadline, System.nanoTime()));
    }

    /** The {@code nanoTime} deadline of a wall-clock instant: 0 (none) for far future, a passed deadline for the past. */
    public static long deadlineAt(Instant instant) {
        long now = System.nanoTime();
        long fromNow;
        try {
            fromNow = Duration.between(Instant.now(), instant).toNanos();
        } catch (ArithmeticException e) {
            fromNow = instant.isBefore(Instant.now()) ? -FOREVER : FOREVER;
        }
        if (fromNow >= FOREVER) {
            return 0;
        }
        fromNow = Math.max(fromNow, -FOREVER);
        long d = now + fromNow;
        return d == 0 ? 1 : d;
    }

    /** The earlier of two deadlines, either of which may be 0 (none). */
    public static long earliest(long a, long b) {
        if (a == 0) {
            return b;
        }
        if (b == 0) {
            return a;
        }
        return a - b <= 0 ? a : b;
    }

    /** {@code d} in nanoseconds, clamped to 0 .. {@link Long#MAX_VALUE}: for a JDK wait that takes a length. */
    public static long clamp(Duration d) {
        if (d.isNegative()) {
            return 0;
        }
        try {
            return d.toNanos();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    /** Whether {@code deadline} (not 0) has passed at {@code now}. */
    public static boolean passed(long deadline, long now) {
        return deadline != 0 && now - deadline >= 0;
    }

    /** Nanoseconds left until {@code deadline} (not 0) from {@code now}, at least 0. */
    public static long left(long deadline, long now) {
        return Math.max(0, deadline - now);
    }
}
