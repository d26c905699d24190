package io.stcp.internal;

import io.stcp.RejectReason;
import java.net.SocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongSupplier;
import org.slf4j.spi.LoggingEventBuilder;

/**
 * A server's refused connections: counted per {@link RejectReason}, and logged as
 * {@code server.reject} at WARN at most once per {@value #INTERVAL_SECONDS} s per reason. A line
 * carries the reason, the address refused (when known), the detail (what was wrong with a PROXY
 * header), how many of that reason were held back since its last line ({@code suppressed}, only when
 * some were) and
 * how many there have been in all ({@code rejectedTotal}). A flood of refusals costs a handful of
 * lines per interval. Thread-safe.
 */
final class Rejections {
    static final int INTERVAL_SECONDS = 10;
    private static final RejectReason[] REASONS = RejectReason.values();

    private final AtomicLongArray counts = new AtomicLongArray(REASONS.length);
    private final RateLimiter[] logs = new RateLimiter[REASONS.length];
    private final int maxConn;

    /**
     * @param maxConn the configured limit, for the {@code maxConn} lines
     * @param nanoClock the clock of the rate limits ({@link System#nanoTime()} but in tests)
     */
    Rejections(int maxConn, LongSupplier nanoClock) {
        this.maxConn = maxConn;
        for (int i = 0; i < logs.length; i++) {
            logs[i] = new RateLimiter(TimeUnit.SECONDS.toNanos(INTERVAL_SECONDS), 1, nanoClock);
        }
    }

    /**
     * Counts one refusal and logs it unless its reason was logged within the interval.
     *
     * @param remote the address refused, or null
     * @param detail what was wrong, or null
     */
    void reject(RejectReason reason, SocketAddress remote, String detail) {
        long total = counts.incrementAndGet(reason.ordinal());
        if (!Log.SERVER.isWarnEnabled()) {
            return;
        }
        long held = logs[reason.ordinal()].tryAcquire();
        if (held < 0) {
            return;
        }
        LoggingEventBuilder b = Log.SERVER.atWarn().setMessage("server.reject").addKeyValue("reason", reason.key());
        if (reason == RejectReason.MAX_CONN) {
            b.addKeyValue("maxConn", maxConn);
        }
        if (remote != null) {
            b.addKeyValue(Log.REMOTE_ADDR, HostPort.format(remote));
        }
        if (detail != null) {
            b.addKeyValue("error", detail);
        }
        Log.suppressed(b, held).addKeyValue("rejectedTotal", total).log();
    }

    long count(RejectReason reason) {
        return counts.get(reason.ordinal());
    }

    long total() {
        long sum = 0;
        for (int i = 0; i < REASONS.length; i++) {
            sum += counts.get(i);
        }
        return sum;
    }
}
