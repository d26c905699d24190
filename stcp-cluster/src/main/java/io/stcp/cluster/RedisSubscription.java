package io.stcp.cluster;

import static io.stcp.cluster.RedisBus.millis;

import io.stcp.Durations;
import io.stcp.cluster.ClusterBus.Listener;
import io.stcp.cluster.internal.Backoff;
import io.stcp.cluster.internal.ClusterThreads;
import io.stcp.cluster.internal.Envelope;
import io.stcp.cluster.internal.LogLimiter;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.BinaryJedisPubSub;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.JedisSocketFactory;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisException;

/**
 * {@link RedisBus}'s subscription: the subscriber connection, made again with back-off after each
 * end by a virtual thread ({@link #subscribeLoop}), and the heartbeat that closes it when it goes
 * silent ({@link #heartbeatLoop}); see {@link RedisBus}, Connections and Closing.
 *
 * <p><b>States</b> (under {@link #lock} but where said): not subscribed — subscribed ({@link
 * #subscribe}: the two threads started, once); then, attempt after attempt on the subscribing
 * thread: a subscriber connection being set up ({@link #subscriber} set, {@link #pubsub} null) —
 * confirmed (both channels: {@link #pubsub} set and {@link #connected} true together) — ended
 * (both null again; then, outside the lock and on that thread only, {@code connected} cleared and
 * the listener told). {@link #close} is final from any of them: {@link #closed} set and {@code
 * connected} cleared, the threads woken from their pauses and the subscriber connection closed,
 * all under the lock; a subscription that confirms or delivers after it closes its connection,
 * and the heartbeat pings only the subscription in place, under the lock. {@link #closed} and
 * {@link #connected} are read without the lock.
 */
final class RedisSubscription {
    private static final Logger log = LoggerFactory.getLogger(RedisBus.class); // the bus's lines, under its name
    /** Why a subscription ended when even saying why failed (out of memory, say). */
    private static final String ENDED_BY_ERROR = "subscription ended by an Error (see cluster.bus.error)";

    private final RedisBus bus; // its test hooks, closeQuietly and logError
    private final ClusterConfig config;
    private final String redis; // its address, as the lines name it
    private final JedisClientConfig clientConfig;
    private final RedisSockets sockets;
    private final Watchdog watchdog;
    private final RedisCalls calls;
    private final String channelPrefix;
    private final byte[] allChannel;
    /** The longest message read from the subscription: the longest envelope; a longer one is skipped unread. */
    private final long maxMessage;
    private final LogLimiter lossLog = new LogLimiter(TimeUnit.SECONDS.toNanos(5));
    private final LogLimiter heartbeatLog = new LogLimiter(TimeUnit.SECONDS.toNanos(5));

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private @Nullable Jedis subscriber;       // guarded by lock
    private @Nullable Thread thread;          // guarded by lock
    private @Nullable Thread heartbeat;       // guarded by lock
    private @Nullable BinaryJedisPubSub pubsub; // guarded by lock: the subscription in place, on subscriber
    /**
     * When the subscription last heard from Redis ({@link System#nanoTime()}): its confirmation, or
     * the last read of its connection that brought bytes ({@link HeardInput}) — a pong, a message,
     * or part of one still arriving, skipped or not.
     */
    private volatile long heardNanos;
    private boolean subscribed;               // guarded by lock
    private volatile boolean closed;          // written under lock, read without
    private volatile boolean connected;       // written under lock (with pubsub; close() clears it), read without
    /** When this attempt's subscription was confirmed ({@link System#nanoTime()}), or 0: the subscribing thread's only. */
    private long upSinceNanos;
    /** The subscription the last heartbeat round pinged, or null: the heartbeat thread's only. */
    private @Nullable BinaryJedisPubSub pinged;
    /** When {@link #pinged} was pinged ({@link System#nanoTime()}): the heartbeat thread's only. */
    private long pingedNanos;

    RedisSubscription(RedisBus bus, ClusterConfig config, String redis, JedisClientConfig clientConfig, RedisSockets sockets,
            Watchdog watchdog, RedisCalls calls, String channelPrefix, byte[] allChannel) {
        this.bus = bus;
        this.config = config;
        this.redis = redis;
        this.clientConfig = clientConfig;
        this.sockets = sockets;
        this.watchdog = watchdog;
        this.calls = calls;
        this.channelPrefix = channelPrefix;
        this.allChannel = allChannel;
        this.maxMessage = Envelope.maxLength(config.maxMessageBytes());
    }

    /** Whether the subscription is confirmed and the bus not closed; any thread. */
    boolean isConnected() {
        return connected && !closed;
    }

    /** Whether {@link #close} has been called; any thread. */
    boolean isClosed() {
        return closed;
    }

    /**
     * The first step of {@link RedisBus#close()}: marks this closed, wakes both threads and closes
     * the subscriber connection, under the lock; returns the threads to join (null where not
     * started), or null if already closed.
     */
    @Nullable Thread @Nullable [] close() {
        Thread t;
        Thread h;
        lock.lock();
        try {
            if (closed) {
                return null;
            }
            closed = true;
            connected = false;
            wake.signalAll();
            t = thread;
            h = heartbeat;
            if (subscriber != null) {
                bus.closeQuietly(subscriber); // the subscribe call fails at once and the loop ends
            }
        } finally {
            lock.unlock();
        }
        return new Thread[] {t, h};
    }

    /** See {@link RedisBus#subscribe}. */
    void subscribe(String nodeId, Listener listener) {
        Objects.requireNonNull(nodeId, "nodeId");
        Objects.requireNonNull(listener, "listener");
        byte[] own = (channelPrefix + nodeId).getBytes(StandardCharsets.UTF_8);
        Backoff backoff = new Backoff(config.reconnectDelay(), config.reconnectMaxDelay()); // here: out of memory is the caller's
        lock.lock();
        try {
            if (closed || subscribed) {
                throw new IllegalStateException(closed ? "closed" : "already subscribed");
            }
            subscribed = true;
            thread = ClusterThreads.start("stcp-cluster-" + nodeId + "-redis", () -> subscribeLoop(own, listener, backoff));
            heartbeat = ClusterThreads.start("stcp-cluster-" + nodeId + "-redis-ping", this::heartbeatLoop);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Subscribes, again after each end, until {@link #close()}: nothing else ends it. Everything an
     * attempt makes is made inside it ({@link #attempt}), and what follows its end (the lines that
     * say why, the listener's {@link Listener#onDisconnected}) is guarded each on its own, so that an
     * {@link Error} anywhere (out of memory, a class missing) costs that attempt or that line only.
     * An Error that ended this thread left the bus deaf for good, with no line saying so.
     */
    private void subscribeLoop(byte[] own, Listener listener, Backoff backoff) {
        boolean everConnected = false;
        while (!closed) {
            upSinceNanos = 0;
            String reason;
            try {
                reason = attempt(own, listener, everConnected);
            } catch (Throwable e) { // out of memory in its catch or finally (saying why it ended, say)
                reason = ENDED_BY_ERROR;
                bus.logError("cluster.bus.error", null, e);
            }
            if (upSinceNanos != 0) {
                everConnected = true;
                if (System.nanoTime() - upSinceNanos >= config.reconnectMaxDelay().toNanos()) {
                    backoff.reset(); // it stayed up: the back-off starts again
                }
            }
            long delayNanos = backoff.nextNanos();
            if (connected) {
                connected = false;
                if (!closed) {
                    try {
                        log.atWarn().setMessage("cluster.bus.lost").addKeyValue("redis", redis).addKeyValue("error", reason).log();
                    } catch (Throwable logFailed) {
                        // out of memory even for the line: the listener hears of it all the same
                    }
                    try {
                        listener.onDisconnected(reason);
                    } catch (Throwable e) { // the listener's (an Error too): this thread must go on
                        bus.logError("cluster.bus.error", null, e);
                    }
                }
            } else if (!closed) {
                try {
                    long held = lossLog.tryAcquire();
                    if (held >= 0) {
                        LogLimiter.suppressed(log.atWarn().setMessage("cluster.bus.unreachable").addKeyValue("redis", redis).addKeyValue("error", reason)
                                .addKeyValue("retryIn", Durations.format(Duration.ofNanos(delayNanos))), held).log();
                    }
                } catch (Throwable logFailed) {
                    // out of memory even for the line: connected again after the back-off all the same
                }
            }
            if (!closed) {
                pause(delayNanos);
            }
        }
    }

    /**
     * One subscription, from the connection to its end, on the subscribing thread; sets
     * {@link #upSinceNanos} once it is confirmed.
     *
     * @param again whether an earlier one was confirmed
     * @return why it ended
     */
    private String attempt(byte[] own, Listener listener, boolean again) {
        String reason = null;
        Jedis j = null;
        OneShotSockets socket = null;
        try {
            Runnable attemptHook = bus.beforeAttempt;
            if (attemptHook != null) {
                attemptHook.run();
            }
            socket = new OneShotSockets();
            OneShotSockets sockets = socket; // for the subscription's callbacks
            j = new Jedis(sockets, clientConfig);
            j.ping(); // connects within connectTimeout; then its watch is armed until both channels are confirmed
            lock.lock();
            try {
                if (closed) {
                    return "closed";
                }
                subscriber = j;
            } finally {
                lock.unlock();
            }
            Jedis sub = j;
            Consumer<Jedis> hook = bus.beforeSubscribe;
            if (hook != null) {
                hook.accept(sub);
            }
            sub.subscribe(new BinaryJedisPubSub() {
                @Override
                public void onSubscribe(byte[] channel, int subscribedChannels) {
                    if (closed) {
                        bus.closeQuietly(sub); // close() ran meanwhile: the subscribe call fails and the loop ends
                        return;
                    }
                    if (subscribedChannels == 2) {
                        if (!sockets.settled()) {
                            return; // too late: the connection is closed, the subscribe call fails and the loop tries again
                        }
                        calls.clearIdle(); // before connected: idle command connections from before an outage are broken
                        // connected with pubsub, under the lock: close() sets it false under the
                        // lock, so a bus closed meanwhile never reports connected again.
                        lock.lock();
                        try {
                            if (closed) {
                                bus.closeQuietly(sub);
                                return;
                            }
                            pubsub = this;
                            heardNanos = System.nanoTime();
                            connected = true;
                        } finally {
                            lock.unlock();
                        }
                        upSinceNanos = System.nanoTime() | 1; // never 0
                        log.atInfo().setMessage("cluster.bus.connected").addKeyValue("redis", redis)
                                .addKeyValue("reconnect", again).log();
                        Consumer<Jedis> connectedHook = bus.beforeConnected;
                        if (connectedHook != null) {
                            connectedHook.accept(sub);
                        }
                        if (!closed) { // the listener is not called under the lock: close() may still come after this look
                            listener.onConnected();
                        }
                    }
                }

                @Override
                public void onMessage(byte[] channel, byte @Nullable [] message) {
                    if (closed) {
                        bus.closeQuietly(sub);
                        return;
                    }
                    if (message == null) { // longer than any envelope: skipped as it was read (Redis sends no null message)
                        listener.onTooLong(sockets.skipped(), maxMessage);
                        return;
                    }
                    listener.onMessage(message);
                }
            }, own, allChannel);
            reason = "subscription ended";
        } catch (JedisException | IllegalStateException e) {
            reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            if (socket != null && socket.fired() && !closed) {
                reason = "not subscribed within commandTimeout of the connect (connection closed): " + reason;
            }
        } catch (Throwable e) {
            // An Error too (a class missing from the class path, out of memory reading a message of
            // up to the longest envelope, making this attempt's state, or in the listener): a lost
            // subscription, made again. Left to end the thread, it left the bus connected with
            // nobody subscribed: deaf for good.
            reason = e.toString();
            bus.logError("cluster.bus.error", null, e);
        } finally {
            lock.lock();
            try {
                subscriber = null;
                pubsub = null;
            } finally {
                lock.unlock();
            }
            if (j != null) {
                bus.closeQuietly(j);
            }
        }
        return reason;
    }

    /**
     * Pings the subscription every command timeout and closes its connection when the previous
     * ping has had no answer, nor any other byte, by then ({@link #heardNanos}): a message that
     * takes longer than that to arrive whole (a long one on a slow link, one being skipped) is a
     * sign of life all along; see the class comment. Ends with
     * {@link #close()}, and only then: as the subscriber loop does with an attempt, it takes
     * whatever a round throws (an {@link Error} too: out of memory, a class missing) as that
     * round failed, logged ({@code cluster.bus.heartbeat.error}, WARN, one line per 5 s at most)
     * by {@link RedisBus#logError}, which nothing escapes; the next round comes a command timeout later.
     * An Error that ended this thread (one thrown while its own line was made, too) left a silent
     * subscription unnoticed for good.
     */
    private void heartbeatLoop() {
        long intervalNanos = config.commandTimeout().toNanos();
        while (!closed) {
            pause(intervalNanos);
            try {
                heartbeatRound();
            } catch (Throwable e) {
                // The ping may not have gone out: the next round pings afresh rather than take its
                // silence for the link's. One round per commandTimeout, so one line per round at most.
                pinged = null;
                bus.logError("cluster.bus.heartbeat.error", heartbeatLog, e);
            }
        }
    }

    /** One round of the heartbeat, on its thread: see {@link #heartbeatLoop}. */
    private void heartbeatRound() {
        BinaryJedisPubSub p;
        Jedis j;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            p = pubsub;
            j = subscriber;
        } finally {
            lock.unlock();
        }
        if (j == null || p == null) { // none, or subscribing: its watch closes it if both confirmations are not in by its deadline
            pinged = null;
            return;
        }
        if (p == pinged && heardNanos - pingedNanos < 0) {
            pinged = null;
            bus.closeQuietly(j); // the subscribe call fails, and the subscription is made again
            log.atWarn().setMessage("cluster.bus.silent").addKeyValue("redis", redis)
                    .addKeyValue("silentFor", Durations.format(Duration.ofNanos(System.nanoTime() - pingedNanos))).log();
            return;
        }
        pinged = p;
        pingedNanos = System.nanoTime();
        // Under the lock, and only the subscription in place: after close() or the end of its
        // subscribe call, p's connection is closed (or about to be). A PING is a few bytes, and
        // one unanswered closes the connection: its write does not wait for the peer.
        lock.lock();
        try {
            if (!closed && pubsub == p) {
                Runnable hook = bus.beforePing;
                if (hook != null) {
                    hook.run();
                }
                p.ping();
            }
        } catch (RuntimeException e) {
            // a broken connection: the subscribe call fails too, and the loop there reconnects
        } finally {
            lock.unlock();
        }
    }

    private void pause(long nanos) {
        lock.lock();
        try {
            long left = nanos;
            while (!closed && left > 0) {
                left = wake.awaitNanos(left);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            lock.unlock();
        }
    }

    /**
     * The sockets of one subscriber connection: the first is made ({@link RedisSockets}: the lookup
     * and the connect within the connect timeout), any other is refused, so that a closed subscriber
     * connection stays closed; see {@link RedisBus}, Closing. Its set-up after the connect — the
     * handshake, the first {@code PING} (each reply within the read timeout) and the subscribing,
     * whose confirmations are read with no timeout — ends within a command timeout in all: the
     * socket's {@link Watchdog.Watch} is armed with that deadline, and {@link #settled()}, once both
     * channels are confirmed, disarms it. Its input skips every message longer than the longest
     * envelope ({@link BulkLimit}), and every read of it that brings bytes is heard ({@link HeardInput}).
     */
    private final class OneShotSockets implements JedisSocketFactory {
        private final AtomicBoolean made = new AtomicBoolean();
        private volatile Watchdog.@Nullable Watch watch; // set on the subscribing thread, read there too
        private volatile @Nullable BulkLimit input; // made on the subscribing thread, read there too

        @Override
        public Socket createSocket() {
            if (!made.compareAndSet(false, true)) {
                throw new JedisConnectionException("subscriber connection closed (not connected again)");
            }
            // The watch before the connect, armed with the connect's own deadline: it has each
            // socket from the start, so a close() that fires it ends the connect at once.
            Watchdog.Watch w = watchdog.watch();
            long connectEnd = System.nanoTime() + config.connectTimeout().toNanos();
            Socket s;
            try {
                w.arm(connectEnd);
                s = sockets.connect(connectEnd, w, LimitedSocket::new);
            } catch (RuntimeException e) {
                w.fire(); // the watchdog forgets it
                throw e;
            }
            w.arm(System.nanoTime() + config.commandTimeout().toNanos()); // the set-up's deadline from here
            watch = w;
            return RedisCalls.withReadTimeout(s, millis(config.commandTimeout()));
        }

        /** The length of the last message skipped unread (longer than {@link #maxMessage}), or -1. */
        long skipped() {
            BulkLimit in = input;
            return in == null ? -1 : in.skipped();
        }

        /** A socket whose input skips every bulk longer than {@link #maxMessage}: see {@link BulkLimit}. */
        private final class LimitedSocket extends Socket {
            @Override
            public InputStream getInputStream() throws IOException {
                BulkLimit in = input;
                if (in == null) { // Jedis asks once, on the subscribing thread
                    in = new BulkLimit(new HeardInput(super.getInputStream()), maxMessage);
                    input = in;
                }
                return in;
            }
        }

        /**
         * The socket's input, which sets {@link #heardNanos} at every read that brings bytes: the
         * heartbeat's sign of life is whatever arrives, not only what Jedis has finished reading.
         * A message that takes longer than a command timeout to arrive (a long one on a slow link,
         * which Jedis hands on only once whole, or one {@link BulkLimit} skips, whose bytes after its
         * header reach Jedis as nothing at all) used to leave the subscription silent to the
         * heartbeat while it came: it was dropped, and made again.
         */
        private final class HeardInput extends FilterInputStream {
            HeardInput(InputStream in) {
                super(in);
            }

            @Override
            public int read() throws IOException {
                int c = super.read();
                if (c >= 0) {
                    heardNanos = System.nanoTime();
                }
                return c;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = super.read(b, off, len);
                if (n > 0) {
                    heardNanos = System.nanoTime();
                }
                return n;
            }
        }

        /** Ends the set-up's deadline; false when it had passed (the connection is closed). */
        boolean settled() {
            Watchdog.Watch w = watch;
            return w != null && w.disarm();
        }

        /** Whether the set-up's deadline passed: the watchdog closed the connection. */
        boolean fired() {
            Watchdog.Watch w = watch;
            return w != null && w.fired();
        }
    }
}
