package io.stcp;

import io.stcp.internal.HeartbeatScanner;
import java.time.Duration;
import java.util.Objects;

/**
 * A start hook that queues a ping message on every connection that has written nothing for
 * {@code interval}, so peers and middleboxes see a live connection:
 * {@code server.onConnectionStart(Heartbeat.every(Duration.ofSeconds(15), PING))}.
 *
 * <p>One shared scanner thread serves all connections (no timer per connection); it checks a
 * quarter as often as the shortest interval (between 1 ms and 1 s), so a ping goes out between
 * {@code interval} and {@code 1.25 × interval} after the last write. A connection stops being
 * watched when its sender closes. A ping that cannot be queued (full, closed) is skipped.
 *
 * <p>Pair it with {@link ServerConfig#readIdleTimeout()} on the other side's heartbeats to drop
 * peers that went silent.
 */
public final class Heartbeat implements ConnectionHook {
    private final long intervalNanos;
    private final byte[] ping;

    private Heartbeat(Duration interval, byte[] ping) {
        if (interval.isNegative() || interval.isZero()) {
            throw new IllegalArgumentException("interval: " + Durations.format(interval) + " (expected: > 0)");
        }
        this.intervalNanos = interval.toNanos();
        this.ping = Objects.requireNonNull(ping, "ping").clone();
    }

    /** Pings with {@code ping} (shared, never modified) after {@code interval} of write-idleness. */
    public static Heartbeat every(Duration interval, byte[] ping) {
        return new Heartbeat(interval, ping);
    }

    @Override
    public void onEvent(Sender sender) {
        HeartbeatScanner.INSTANCE.watch(sender, intervalNanos, ping);
    }
}
