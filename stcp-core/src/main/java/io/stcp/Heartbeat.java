package io.stcp;

import java.time.Duration;
import java.util.Objects;

/**
 * A start hook that queues a ping message on every connection that has written nothing for
 * {@code interval}, so peers and middleboxes see a live connection:
 * {@code server.onConnectionStart(Heartbeat.every(Duration.ofSeconds(15), PING))}, or on a
 * client's, {@code client.onConnect(...)} ({@link TcpClient#onConnect}).
 *
 * <p>Built on {@link Connection#onWriteIdle}: the server's sweeper (one thread for all its
 * connections, no timer per connection; clients share one of their own) checks every eighth of the interval, at least every
 * second, so a ping goes out between {@code interval} and {@code interval} plus a quarter of it
 * (two seconds at most) after the last write. It looks at most every millisecond, so the interval
 * is at least {@link #MIN_INTERVAL} (8 ms); a shorter one is refused. Each ping is put on a thread of its own: a sender
 * whose put blocks (BLOCK policy) or throws holds up only its own next ping, never another
 * connection's. A ping that cannot be queued (full, closed) is skipped; watching ends when the
 * connection closes. A ping that a {@link QueueSender} could never queue, being longer than its
 * byte limit, fails the start hook instead (see {@link #onEvent}); the ping may not be empty.
 * Other senders' limits are theirs: a put they refuse is skipped as above.
 *
 * <p>Nothing written is not always idle: a peer that stops reading stalls the write under way.
 * So no ping is put while a {@link QueueSender} still holds messages: they show the peer the
 * connection is alive once they move, and a ping would only take a queued message's place
 * ({@link OverflowPolicy#DROP_OLDEST} would drop it; under {@link OverflowPolicy#CLOSE_CONNECTION}
 * the ping would be what closes the connection). Nor is one put while a write is under way (or
 * stalled): the ping is queued only into an empty, idle queue, decided and done in one step
 * under the queue's lock, so a message another thread puts at the same moment never makes room
 * for a ping. Other senders get the ping whatever they hold.
 *
 * <p>Pair it with {@link ServerConfig#readIdleTimeout()} on the other side's heartbeats to drop
 * peers that went silent.
 */
public final class Heartbeat implements ConnectionHook {
    /**
     * The shortest interval, 8 ms: the sweeper looks every eighth of the interval and at most every
     * millisecond, so a shorter heartbeat would run later than a quarter of its interval.
     */
    public static final Duration MIN_INTERVAL = Duration.ofMillis(8);

    private final Duration interval;
    private final byte[] ping;
    /** Test seam: runs on the ping's thread just before a ping is put; a no-op otherwise. */
    private final Runnable beforePing;

    private Heartbeat(Duration interval, byte[] ping, Runnable beforePing) {
        if (Objects.requireNonNull(interval, "interval").compareTo(MIN_INTERVAL) < 0) {
            throw new IllegalArgumentException("interval: " + Durations.format(interval) + " (expected: >= "
                    + Durations.format(MIN_INTERVAL) + ", the shortest the server's sweeper runs on time: it looks every"
                    + " eighth of the interval, at most every millisecond" + (interval.isPositive() ? ""
                    : "; unlike a timeout, a heartbeat is not turned off by zero: to send no pings, add no Heartbeat")
                    + ")");
        }
        if (Objects.requireNonNull(ping, "ping").length == 0) {
            throw new IllegalArgumentException("ping: empty (expected: at least one byte; an empty ping writes"
                    + " nothing, so the connection would stay idle)");
        }
        this.interval = interval;
        this.ping = ping.clone();
        this.beforePing = beforePing;
    }

    /** Pings with {@code ping} (shared, never modified) after {@code interval} of write-idleness. */
    public static Heartbeat every(Duration interval, byte[] ping) {
        return new Heartbeat(interval, ping, () -> {});
    }

    /** Test seam: {@link #every}, running {@code beforePing} on the ping's thread just before each ping is put. */
    static Heartbeat every(Duration interval, byte[] ping, Runnable beforePing) {
        return new Heartbeat(interval, ping, Objects.requireNonNull(beforePing, "beforePing"));
    }

    /**
     * Starts watching {@code sender}'s connection.
     *
     * @throws IllegalArgumentException if {@code sender} is a {@link QueueSender} whose byte limit
     *     ({@link QueueSender.Options#maxBytes(long)}) is below the ping's length, which it would
     *     refuse every time: the connection then goes on without a heartbeat, and the server logs
     *     it as a failed start hook ({@code conn.hook.failed}, WARN, rate-limited per server)
     */
    @Override
    public void onEvent(Sender sender) {
        if (sender instanceof QueueSender q && q.maxBytes() != 0 && ping.length > q.maxBytes()) {
            throw new IllegalArgumentException("ping: " + ping.length + " bytes, above the sender's maxBytes of "
                    + q.maxBytes() + " (expected: a ping the sender can queue; this one would never be sent)");
        }
        sender.connection().onWriteIdle(interval, () -> {
            try {
                beforePing.run();
                if (sender instanceof QueueSender q) {
                    q.putIfIdle(ping); // not while messages are queued or a write is under way or stalled: they will do
                } else {
                    sender.put(ping);
                }
            } catch (SendException skipped) {
                // full or closed: the next interval tries again
            }
        });
    }
}
