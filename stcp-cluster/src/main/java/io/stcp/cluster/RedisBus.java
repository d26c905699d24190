package io.stcp.cluster;

import io.stcp.cluster.internal.Backoff;
import io.stcp.cluster.internal.ClusterThreads;
import io.stcp.cluster.internal.LogLimiter;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.apache.commons.pool2.PooledObject;
import org.apache.commons.pool2.PooledObjectFactory;
import org.apache.commons.pool2.impl.DefaultPooledObject;
import org.apache.commons.pool2.impl.GenericObjectPoolConfig;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.spi.LoggingEventBuilder;
import redis.clients.jedis.BinaryJedisPubSub;
import redis.clients.jedis.CommandArguments;
import redis.clients.jedis.Connection;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.JedisSocketFactory;
import redis.clients.jedis.JedisPool;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Protocol;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.exceptions.JedisException;
import redis.clients.jedis.exceptions.JedisNoScriptException;

/**
 * The {@link ClusterBus} and {@link Presence} on Redis (standalone, 6.2 or newer), through Jedis:
 * blocking calls, which suit the virtual threads that make them.
 *
 * <p><b>Channels.</b> Node {@code N} subscribes to {@code <prefix>node:N} and {@code <prefix>all}
 * (plain pub/sub). Sharded pub/sub (Redis 7) is not used: it spreads channels over the shards of
 * a Redis Cluster, and with a single Redis it changes nothing. {@code PUBLISH} answers how many
 * clients got a message, pattern subscribers included (an operator's {@code redis-cli PSUBSCRIBE
 * 'stcp:*'}); so a publish is one {@code MULTI}/{@code EXEC} that also asks how many
 * clients subscribe to each channel itself ({@code PUBSUB NUMSUB}, constant work per channel), and
 * that is what {@link #publish} and {@link #publishAll} count: a listener by pattern is not a
 * node, one that subscribes to a node's channel or to {@code <prefix>all} by name is taken for one.
 * It takes two round trips: the commands are queued first, and {@code EXEC} is sent only once
 * Redis has answered them, and only with at least a quarter of the command timeout left for its
 * reply; so a Redis that stops answering, or answers slowly, fails the publish before anything is
 * published. Only when the reply to {@code EXEC} itself does not come (it times out, the
 * connection breaks), or Redis refused {@code MULTI} (the commands then ran on their own), may the
 * message have been published or not: the {@link BusException} then says
 * {@link BusException#outcomeUnknown()}, and nothing sends it again.
 *
 * <p><b>Presence.</b> One sorted set per name, {@code <prefix>u:<user>} and {@code <prefix>g:<group>},
 * member = node id, score = the time (Redis's clock, milliseconds) when the entry expires. A lookup
 * returns the members whose score is in the future; an announce adds or moves its entry to now +
 * TTL, removes expired members and sets the key to expire with its last entry. So no entry outlives
 * its TTL unannounced, and no key outlives its entries; the clocks of the nodes play no part.
 * Lookups and announces are Lua scripts (one round trip each), withdrawals pipelined
 * {@code ZREM}s. Announces and withdrawals go in batches of 256 names, each batch its own call
 * (within its own {@code commandTimeout}): however many names a node has, no call carries more, so
 * none takes longer for a large node. A lookup returns at most 1024 nodes.
 *
 * <p><b>Connections.</b> One for the subscription, held by a virtual thread that reconnects with
 * back-off ({@link ClusterConfig#reconnectDelay()} doubling to {@link
 * ClusterConfig#reconnectMaxDelay()}, starting again only after a subscription that stayed up that
 * long: a Redis that drops the subscriber as soon as it is made — its pub/sub output limit hit
 * again by a slow node — is not asked again every {@code reconnectDelay}); up to {@link ClusterConfig#poolSize()} for commands. A
 * command call — waiting for a free connection, making one if need be (name lookup, connect and
 * handshake: {@code RedisSockets}, {@code HostLookup}), and each of its round trips — ends within
 * {@link ClusterConfig#commandTimeout()} in all: each step gets what is left of it, not a timeout
 * of its own. A write has no timeout, nor has a handshake as a whole, so the call's connection is
 * closed at its deadline if the call still runs then ({@code Watchdog}: one thread per bus, and a
 * compare-and-set at each end of a call): a write blocked on a Redis that stopped reading fails,
 * and that connection is not pooled again. A publish cut before its {@code EXEC} was sent published
 * nothing (Redis discards a transaction whose connection is gone); once {@code EXEC} is sent, its
 * outcome is unknown, as below. The subscriber's connection is made within
 * {@link ClusterConfig#connectTimeout()}; its handshake, a first {@code PING} and the subscribing
 * (Redis confirming both channels) end within a command timeout after that: the same watchdog
 * closes it then, and the loop makes another. While the subscription is down every call fails at
 * once with {@link BusException}; when it is back, the idle command connections (broken by the
 * same outage) are dropped and {@link Listener#onConnected()} runs. A subscribed connection only
 * reads, and a read on it has no timeout, so a link that goes silent without being closed (a NAT
 * or firewall that forgot the flow, a Redis that stopped answering) would leave the node deaf
 * while it looks connected; a second virtual thread therefore sends {@code PING} on the
 * subscription every {@link ClusterConfig#commandTimeout()}, and when nothing (neither the pong
 * nor a message) has come back by the next one, closes that connection: the subscription is then
 * lost and made again as after any outage. So a silent subscription is noticed within about two command
 * timeouts, and a link that goes silent while subscribing within one (the watchdog, above).
 *
 * <p><b>Closing.</b> Jedis connects a closed connection again on its next command, and the
 * subscriber connection is closed from other threads ({@link #close()}, the heartbeat, the
 * watchdog) while its own thread may be about to use it: a {@code SUBSCRIBE} sent after
 * {@code close()} would make a subscription and a thread that outlive the bus. So a subscriber connection makes its socket once
 * and is never connected again ({@link OneShotSockets}; the loop makes a new one), the heartbeat
 * pings only the subscription in place, under the lock, and a subscription that confirms or
 * delivers after {@code close()} closes its connection.
 *
 * <p><b>Bounds.</b> What a message may cost a subscriber is bounded by Redis's
 * {@code client-output-buffer-limit pubsub} (32 MiB hard by default: Redis disconnects a slower
 * subscriber) and by {@link ClusterConfig#maxMessageBytes()} on the nodes' side: the node drops a
 * message longer than any envelope as it arrives, before it is queued.
 */
// JedisPool is deprecated in Jedis 8 in favour of RedisClient, which hides the connection a
// pipeline and a script run on; the pool gives them one Jedis each, and is still supported in 8.x.
@SuppressWarnings("deprecation")
public final class RedisBus implements ClusterBus, Presence {
    private static final Logger log = LoggerFactory.getLogger(RedisBus.class);
    static final int BATCH = 256;
    static final int MAX_NODES = 1024;
    /** Why a subscription ended when even saying why failed (out of memory, say). */
    private static final String ENDED_BY_ERROR = "subscription ended by an Error (see cluster.bus.error)";

    private static final Script LOOKUP = new Script("""
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
            return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf', 'LIMIT', 0, tonumber(ARGV[1]))
            """);
    private static final Script ANNOUNCE = new Script("""
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
            local ttl = tonumber(ARGV[2])
            for _, key in ipairs(KEYS) do
              redis.call('ZADD', key, now + ttl, ARGV[1])
              redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
              local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
              redis.call('PEXPIREAT', key, last[2])
            end
            return #KEYS
            """);

    private final ClusterConfig config;
    private final HostAndPort address;
    private final JedisClientConfig clientConfig;
    private final JedisPool pool;
    private final RedisSockets sockets;
    /** Closes the connection of a call, or of a subscriber's set-up, still running at its deadline: see {@link #call}. */
    private final Watchdog watchdog;
    private final String channelPrefix;
    private final byte[] allChannel;
    private final LogLimiter lossLog = new LogLimiter(TimeUnit.SECONDS.toNanos(5));
    private final LogLimiter heartbeatLog = new LogLimiter(TimeUnit.SECONDS.toNanos(5));
    private final LogLimiter closeLog = new LogLimiter(TimeUnit.SECONDS.toNanos(5));

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private @Nullable Jedis subscriber;       // guarded by lock
    private @Nullable Thread thread;          // guarded by lock
    private @Nullable Thread heartbeat;       // guarded by lock
    private @Nullable BinaryJedisPubSub pubsub; // guarded by lock: the subscription in place, on subscriber
    /** When the subscription last heard from Redis (a message, a pong, the subscribe): {@link System#nanoTime()}. */
    private volatile long heardNanos;
    private boolean subscribed;               // guarded by lock
    private volatile boolean closed;
    private volatile boolean connected;       // written under lock (with pubsub; close() clears it), read without
    /** The end of the command call running on this thread ({@link System#nanoTime()}), for the connection it may make: see {@link #call}. */
    private final ThreadLocal<Long> callEnd = new ThreadLocal<>();
    /** For tests: runs on the subscribing thread between taking a connection as subscriber and sending {@code SUBSCRIBE} on it. */
    volatile @Nullable Consumer<Jedis> beforeSubscribe;
    /** For tests: runs on the subscribing thread once Redis has confirmed both channels, before {@link Listener#onConnected()}. */
    volatile @Nullable Consumer<Jedis> beforeConnected;
    /** For tests: runs on the heartbeat thread, under {@link #lock}, right before each {@code PING} on the subscription. */
    volatile @Nullable Runnable beforePing;
    /** For tests: runs on the subscribing thread at the start of each attempt, where the attempt's state is made. */
    volatile @Nullable Runnable beforeAttempt;
    /** For tests: runs in {@link #closeQuietly(Jedis)} right before each connection is closed, on the closing thread. */
    volatile @Nullable Consumer<Jedis> beforeClose;
    /** When this attempt's subscription was confirmed ({@link System#nanoTime()}), or 0: the subscribing thread's only. */
    private long upSinceNanos;
    /** The subscription the last heartbeat round pinged, or null: the heartbeat thread's only. */
    private @Nullable BinaryJedisPubSub pinged;
    /** When {@link #pinged} was pinged ({@link System#nanoTime()}): the heartbeat thread's only. */
    private long pingedNanos;

    private RedisBus(ClusterConfig config, HostLookup.Resolver resolver) {
        this.config = config;
        RedisAddress a = RedisAddress.parse(config.redisAddress());
        this.address = new HostAndPort(a.host(), a.port());
        HostLookup lookup = new HostLookup(a.host(), "stcp-cluster-" + config.nodeId() + "-redis-lookup", resolver);
        this.sockets = new RedisSockets(a.host(), a.port(), millis(config.connectTimeout()), lookup);
        // Every deadline is at least the shortest of the two timeouts away when armed: see Watchdog.
        this.watchdog = new Watchdog("stcp-cluster-" + config.nodeId() + "-redis-watchdog", address.toString(),
                Math.min(config.commandTimeout().toNanos(), config.connectTimeout().toNanos()));
        this.clientConfig = DefaultJedisClientConfig.builder()
                .connectionTimeoutMillis(millis(config.connectTimeout()))
                .socketTimeoutMillis(millis(config.commandTimeout()))
                .user(config.redisUser())
                .password(config.redisPassword())
                .clientName("stcp-" + config.nodeId())
                .autoNegotiateProtocol(false) // RESP2: all this needs, and no warning per connection
                .build();
        GenericObjectPoolConfig<Jedis> poolConfig = new GenericObjectPoolConfig<>();
        poolConfig.setMaxTotal(config.poolSize());
        poolConfig.setMaxIdle(config.poolSize());
        poolConfig.setMinIdle(0);
        poolConfig.setMaxWait(config.commandTimeout());
        poolConfig.setBlockWhenExhausted(true);
        poolConfig.setJmxEnabled(false);
        // no evictor: it would be a platform thread shared by every pool of the process
        poolConfig.setTimeBetweenEvictionRuns(java.time.Duration.ofMillis(-1));
        this.pool = new JedisPool(poolConfig, new CallConnections());
        this.channelPrefix = config.keyPrefix() + "node:";
        this.allChannel = (config.keyPrefix() + "all").getBytes(StandardCharsets.UTF_8);
    }

    /** A bus and presence store on the Redis of {@code config}; nothing is connected until {@link #subscribe}. */
    public static RedisBus create(ClusterConfig config) {
        return create(config, InetAddress::getAllByName);
    }

    /** A bus whose name lookups of the Redis host go to {@code resolver}: for tests. */
    static RedisBus create(ClusterConfig config, HostLookup.Resolver resolver) {
        return new RedisBus(Objects.requireNonNull(config, "config"), resolver);
    }

    private static int millis(java.time.Duration d) {
        return (int) Math.min(Integer.MAX_VALUE, Math.max(1, d.toMillis()));
    }

    // ---------------------------------------------------------------- subscription

    @Override
    public void subscribe(String nodeId, Listener listener) {
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
                logError("cluster.bus.error", null, e);
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
                        log.atWarn().setMessage("cluster.bus.lost").addKeyValue("redis", address).addKeyValue("reason", reason).log();
                    } catch (Throwable logFailed) {
                        // out of memory even for the line: the listener hears of it all the same
                    }
                    try {
                        listener.onDisconnected(reason);
                    } catch (Throwable e) { // the listener's (an Error too): this thread must go on
                        logError("cluster.bus.error", null, e);
                    }
                }
            } else if (!closed) {
                try {
                    long held = lossLog.tryAcquire();
                    if (held >= 0) {
                        log.atWarn().setMessage("cluster.bus.unreachable").addKeyValue("redis", address).addKeyValue("reason", reason)
                                .addKeyValue("retryMs", TimeUnit.NANOSECONDS.toMillis(delayNanos)).addKeyValue("heldBack", held).log();
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
            Runnable attemptHook = beforeAttempt;
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
            Consumer<Jedis> hook = beforeSubscribe;
            if (hook != null) {
                hook.accept(sub);
            }
            sub.subscribe(new BinaryJedisPubSub() {
                @Override
                public void onSubscribe(byte[] channel, int subscribedChannels) {
                    if (closed) {
                        closeQuietly(sub); // close() ran meanwhile: the subscribe call fails and the loop ends
                        return;
                    }
                    if (subscribedChannels == 2) {
                        if (!sockets.settled()) {
                            return; // too late: the connection is closed, the subscribe call fails and the loop tries again
                        }
                        pool.clear(); // before connected: idle command connections from before an outage are broken
                        // connected with pubsub, under the lock: close() sets it false under the
                        // lock, so a bus closed meanwhile never reports connected again.
                        lock.lock();
                        try {
                            if (closed) {
                                closeQuietly(sub);
                                return;
                            }
                            pubsub = this;
                            heardNanos = System.nanoTime();
                            connected = true;
                        } finally {
                            lock.unlock();
                        }
                        upSinceNanos = System.nanoTime() | 1; // never 0
                        log.atInfo().setMessage("cluster.bus.connected").addKeyValue("redis", address)
                                .addKeyValue("reconnect", again).log();
                        Consumer<Jedis> connectedHook = beforeConnected;
                        if (connectedHook != null) {
                            connectedHook.accept(sub);
                        }
                        if (!closed) { // the listener is not called under the lock: close() may still come after this look
                            listener.onConnected();
                        }
                    }
                }

                @Override
                public void onMessage(byte[] channel, byte[] message) {
                    if (closed) {
                        closeQuietly(sub);
                        return;
                    }
                    heardNanos = System.nanoTime();
                    listener.onMessage(message);
                }

                @Override
                public void onPong(byte[] pattern) {
                    heardNanos = System.nanoTime();
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
            // up to Redis's pub/sub limit, making this attempt's state, or in the listener): a lost
            // subscription, made again. Left to end the thread, it left the bus connected with
            // nobody subscribed: deaf for good.
            reason = e.toString();
            logError("cluster.bus.error", null, e);
        } finally {
            lock.lock();
            try {
                subscriber = null;
                pubsub = null;
            } finally {
                lock.unlock();
            }
            if (j != null) {
                closeQuietly(j);
            }
        }
        return reason;
    }

    /**
     * Logs {@code event} (WARN) for {@code e}, which its caller caught so as to go on (a thread of
     * the bus to its next round or attempt): with {@code limiter}, at most one line per its
     * interval, saying how many it held back ({@code heldBack}). Whatever the line itself throws
     * (out of memory building it, an Error from an appender) is dropped here, so that nothing
     * thrown on the way to the log undoes the catch that called it.
     */
    private void logError(String event, @Nullable LogLimiter limiter, Throwable e) {
        try {
            long held = limiter == null ? 0 : limiter.tryAcquire();
            if (held >= 0) {
                LoggingEventBuilder line = log.atWarn().setMessage(event).addKeyValue("redis", address);
                if (limiter != null) {
                    line = line.addKeyValue("heldBack", held);
                }
                line.setCause(e).log();
            }
        } catch (Throwable logFailed) {
            // out of memory even for the line: the thread goes on all the same
        }
    }

    /**
     * Pings the subscription every command timeout and closes its connection when the previous
     * ping has had no answer (nor anything else) by then; see the class comment. Ends with
     * {@link #close()}, and only then: as the subscriber loop does with an attempt, it takes
     * whatever a round throws (an {@link Error} too: out of memory, a class missing) as that
     * round failed, logged ({@code cluster.bus.heartbeat.error}, WARN, one line per 5 s at most)
     * by {@link #logError}, which nothing escapes; the next round comes a command timeout later.
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
                logError("cluster.bus.heartbeat.error", heartbeatLog, e);
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
            closeQuietly(j); // the subscribe call fails, and the subscription is made again
            log.atWarn().setMessage("cluster.bus.silent").addKeyValue("redis", address)
                    .addKeyValue("silentMs", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - pingedNanos)).log();
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
                Runnable hook = beforePing;
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
     * connection stays closed; see the class comment, Closing. Its set-up after the connect — the
     * handshake, the first {@code PING} (each reply within the read timeout) and the subscribing,
     * whose confirmations are read with no timeout — ends within a command timeout in all: the
     * socket's {@link Watchdog.Watch} is armed with that deadline, and {@link #settled()}, once both
     * channels are confirmed, disarms it.
     */
    private final class OneShotSockets implements JedisSocketFactory {
        private final AtomicBoolean made = new AtomicBoolean();
        private volatile Watchdog.@Nullable Watch watch; // set on the subscribing thread, read there too

        @Override
        public Socket createSocket() {
            if (!made.compareAndSet(false, true)) {
                throw new JedisConnectionException("subscriber connection closed (not connected again)");
            }
            Socket s = sockets.connect(System.nanoTime() + config.connectTimeout().toNanos());
            Watchdog.Watch w;
            try {
                w = watchdog.watch();
            } catch (JedisConnectionException e) {
                closeQuietly(s);
                throw e;
            }
            w.socket(s); // before arming: a watch that close() fires closes it
            w.arm(System.nanoTime() + config.commandTimeout().toNanos());
            watch = w;
            return withReadTimeout(s, millis(config.commandTimeout()));
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

    /** {@code s} with a read timeout of {@code millis}; closed if that fails. */
    private static Socket withReadTimeout(Socket s, int millis) {
        try {
            s.setSoTimeout(millis);
            return s;
        } catch (IOException e) {
            try {
                s.close();
            } catch (IOException ignored) {
                // it failed already
            }
            throw new JedisConnectionException(e);
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    /**
     * Closes the connection of {@code j}, a subscriber's or a pooled one, whatever that throws, so
     * that its caller goes on: {@link #close()} to its end (the threads joined, the pool closed), a
     * bus thread to its next round. A {@link RuntimeException} is a broken connection's, and
     * expected; anything else (an {@link Error}: out of memory, a class missing) is logged
     * {@code cluster.bus.close.error} (WARN, the exception, one line per 5 s at most). It used to
     * escape, and a close() it escaped left its threads running, subscribed, and the pool open.
     */
    private void closeQuietly(Jedis j) {
        try {
            Consumer<Jedis> hook = beforeClose;
            if (hook != null) {
                hook.accept(j);
            }
            j.getConnection().disconnect(); // not j.close(): a pooled one would go back to its pool
        } catch (RuntimeException e) {
            // closing a broken connection
        } catch (Throwable e) {
            logError("cluster.bus.close.error", closeLog, e);
        }
    }

    @Override
    public boolean isConnected() {
        return connected && !closed;
    }

    /**
     * Ends the subscription (its threads end within about a second; each is waited for at most
     * {@link ClusterConfig#closeTimeout()}, then left to end by itself and logged as {@code
     * cluster.bus.close.timeout}), closes every connection, those in use too: a call under way fails
     * at once with {@link BusException}. Idempotent; never throws: not even a line of its own that
     * fails to be made (out of memory, an Error from an appender), which used to escape it, the
     * pool left open.
     */
    @Override
    public void close() {
        Thread t;
        Thread h;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            connected = false;
            wake.signalAll();
            t = thread;
            h = heartbeat;
            if (subscriber != null) {
                closeQuietly(subscriber); // the subscribe call fails at once and the loop ends
            }
        } finally {
            lock.unlock();
        }
        // Every connection, the ones in use too: calls under way and a subscriber connection being
        // set up fail at once (the loop ends), and any watch made or armed from now on fails.
        watchdog.close();
        for (Thread x : new Thread[] {t, h}) {
            if (x == null) {
                continue;
            }
            try {
                if (!x.join(config.closeTimeout())) { // left to end by itself: the pool is closed all the same
                    try {
                        log.atWarn().setMessage("cluster.bus.close.timeout").addKeyValue("redis", address)
                                .addKeyValue("thread", x.getName()).addKeyValue("closeTimeoutMs", config.closeTimeout().toMillis()).log();
                    } catch (Throwable logFailed) {
                        // out of memory even for the line: the close goes on all the same
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            pool.close();
        } catch (RuntimeException e) {
            try {
                log.atDebug().setMessage("cluster.bus.close.pool").addKeyValue("redis", address).setCause(e).log();
            } catch (Throwable logFailed) {
                // out of memory even for the line: close() never throws
            }
        } catch (Throwable e) { // never throws: an Error too
            logError("cluster.bus.close.error", closeLog, e);
        }
    }

    // ---------------------------------------------------------------- commands

    /**
     * Runs {@code command} on a pooled connection, all within {@link ClusterConfig#commandTimeout()}:
     * waiting for a free connection, making one ({@link CallConnections}: the name lookup and the
     * connect get what is left), its handshake, and each round trip of the command ({@link #within}:
     * the read timeout is what is left). A write has no timeout (it waits while Redis reads nothing
     * and the socket's send buffer is full, which a command longer than that buffer can meet), nor
     * has the handshake as a whole (each of its round trips gets the read timeout), so the
     * connection's {@link Watchdog.Watch} is armed with the call's deadline for all of it: if the call
     * still runs then, the connection is closed and the blocked write, or read, fails at once. The
     * call disarms it when it ends; if it could not (the watch fired), the connection is marked
     * broken, so the pool drops it. A {@link JedisException} becomes a {@link BusException} (the
     * command did nothing); one {@code command} throws itself passes as is (a publish whose outcome
     * is unknown).
     */
    private <T> T call(String what, Command<T> command) {
        if (!isConnected()) {
            throw new BusException("redis " + address + ": " + (closed ? "closed" : "not connected") + ", " + what + " not sent");
        }
        long end = System.nanoTime() + config.commandTimeout().toNanos();
        callEnd.set(end);
        try (Jedis j = pool.getResource()) {
            Watchdog.Watch watch = ((CallConnection) j).watch;
            try {
                watch.arm(end); // armed already if the connection was made just now: the same deadline
                within(j, end);
                return command.run(j, end);
            } finally {
                if (!watch.disarm()) { // fired, before the arm too (a connection made just at its deadline)
                    j.getConnection().setBroken(); // closed at the deadline, or by close(): not back to the pool
                }
            }
        } catch (JedisException e) {
            String cut = System.nanoTime() - end >= 0 ? " (commandTimeout passed: connection closed)" : "";
            throw new BusException("redis " + address + ": " + what + " failed" + cut + ": " + e.getMessage(), e);
        } finally {
            callEnd.remove();
        }
    }

    /** A command on a pooled connection, whose round trips end by {@code end} ({@link System#nanoTime()}). */
    private interface Command<T> {
        T run(Jedis j, long end);
    }

    /** Gives the next round trip on {@code j} what is left until {@code end} as its read timeout; none left: fails. */
    private static void within(Jedis j, long end) {
        long leftMillis = TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime());
        if (leftMillis < 1) {
            throw new JedisConnectionException("commandTimeout passed");
        }
        j.getConnection().setSoTimeout((int) Math.min(Integer.MAX_VALUE, leftMillis));
    }

    /** A pooled connection and its watch. */
    private static final class CallConnection extends Jedis {
        final Watchdog.Watch watch;

        CallConnection(Watchdog.Watch watch, JedisSocketFactory sockets, JedisClientConfig config) {
            super(sockets, config); // connects and shakes hands: under the watch, armed by the socket factory
            this.watch = watch;
        }
    }

    /**
     * Makes the pooled connections, each with its {@link Watchdog.Watch}, while a {@link #call}
     * waits for one: the watch is armed with that call's deadline before the connect, so the name
     * lookup and the connect ({@link RedisSockets}: at most what is left, and at most the connect
     * timeout) and the handshake ({@code AUTH}, {@code CLIENT SETNAME}, {@code CLIENT SETINFO}; each
     * reply within what is left as its read timeout) all end by it.
     */
    private final class CallConnections implements PooledObjectFactory<Jedis> {
        @Override
        public PooledObject<Jedis> makeObject() {
            Watchdog.Watch watch = watchdog.watch();
            Long inCall = callEnd.get();
            long end = inCall != null ? inCall : System.nanoTime() + config.connectTimeout().toNanos(); // not in a call: the pool's own doing
            watch.arm(end);
            JedisSocketFactory socket = () -> {
                long leftMillis = TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime());
                if (leftMillis < 1) {
                    throw new JedisConnectionException("commandTimeout passed before connecting");
                }
                Socket s = sockets.connect(end);
                watch.socket(s);
                long soMillis = TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime());
                return withReadTimeout(s, (int) Math.max(1, Math.min(soMillis, millis(config.commandTimeout()))));
            };
            try {
                return new DefaultPooledObject<>(new CallConnection(watch, socket, clientConfig));
            } catch (RuntimeException e) {
                watch.fire(); // its socket, if made, is closed; the watchdog forgets it
                throw e;
            }
        }

        @Override
        public void destroyObject(PooledObject<Jedis> p) {
            closeQuietly(p.getObject()); // an Error too: it would escape the pool's clear() (a new subscription lost) and close()
        }

        @Override
        public boolean validateObject(PooledObject<Jedis> p) {
            return p.getObject().isConnected() && !p.getObject().getConnection().isBroken();
        }

        @Override
        public void activateObject(PooledObject<Jedis> p) {
        }

        @Override
        public void passivateObject(PooledObject<Jedis> p) {
        }
    }

    @Override
    public int publish(Collection<String> nodeIds, byte[] message) {
        if (nodeIds.isEmpty()) {
            return 0;
        }
        List<byte[]> channels = nodeIds.stream().map(this::channel).toList();
        return call("publish", (j, end) -> {
            int reached = 0;
            for (long n : publishCounting(j, end, channels, message)) {
                if (n > 0) {
                    reached++;
                }
            }
            return reached;
        });
    }

    @Override
    public int publishAll(byte[] message) {
        return call("publish", (j, end) -> (int) Math.min(Integer.MAX_VALUE, publishCounting(j, end, List.of(allChannel), message)[0]));
    }

    /**
     * Publishes {@code message} to each of {@code channels} and, in the same {@code MULTI}/{@code
     * EXEC}, asks how many clients subscribe to each by name ({@code PUBSUB NUMSUB}), in two round
     * trips that end by {@code end}: see the class comment, Channels.
     *
     * @throws BusException with {@link BusException#outcomeUnknown()} when {@code EXEC} was sent and
     *     its reply did not come (any other failure comes as a {@link JedisException}: nothing published)
     *
     * @return those counts, in the order of {@code channels}
     */
    private long[] publishCounting(Jedis j, long end, List<byte[]> channels, byte[] message) {
        Connection c = j.getConnection();
        CommandArguments numsub = new CommandArguments(Protocol.Command.PUBSUB).add("NUMSUB");
        c.sendCommand(Protocol.Command.MULTI);
        for (byte[] channel : channels) {
            c.sendCommand(Protocol.Command.PUBLISH, channel, message);
            numsub.add(channel);
        }
        c.sendCommand(numsub);
        // First round trip: Redis has queued the commands (or refused one: EXEC then aborts). A
        // failure here publishes nothing: a connection closed in MULTI is discarded by Redis.
        List<Object> queued = c.getMany(channels.size() + 2);
        if (queued.getFirst() instanceof JedisDataException refused) {
            // MULTI refused (an ACL, say): the commands after it ran at once, each PUBLISH with them
            c.setBroken();
            throw new BusException("redis " + address + ": MULTI refused (" + refused.getMessage()
                    + "), the publish ran outside a transaction: it may have reached nodes", refused, true);
        }
        long execLeft = Math.max(TimeUnit.MILLISECONDS.toNanos(1), config.commandTimeout().toNanos() / 4);
        if (end - System.nanoTime() < execLeft) {
            // Too little time left for EXEC's reply: a reply that comes a little late would leave the
            // outcome unknown, so nothing is published rather than maybe.
            c.setBroken(); // in MULTI: closed, not pooled; Redis discards what was queued
            throw new JedisConnectionException("less than a quarter of commandTimeout left for EXEC");
        }
        within(j, end);
        c.sendCommand(Protocol.Command.EXEC);
        List<Object> results;
        try {
            results = c.getObjectMultiBulkReply(); // the PUBLISH counts, then the NUMSUB reply
        } catch (JedisConnectionException e) {
            // EXEC is out and its reply is not in: Redis may have published. Not sent again (it could arrive twice).
            throw new BusException("redis " + address + ": publish sent, its reply not received: " + e.getMessage(), e, true);
        }
        long[] counts = new long[channels.size()];
        if (!results.isEmpty() && results.getLast() instanceof List<?> reply) { // channel, count, channel, count...
            for (int i = 1; i < reply.size() && i / 2 < counts.length; i += 2) {
                counts[i / 2] = reply.get(i) instanceof Long n ? n : 0;
            }
        }
        return counts;
    }

    private byte[] channel(String nodeId) {
        return (channelPrefix + nodeId).getBytes(StandardCharsets.UTF_8);
    }

    // ---------------------------------------------------------------- presence

    private byte[] key(Scope scope, String name) {
        return (config.keyPrefix() + (scope == Scope.USER ? "u:" : "g:") + name).getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public Set<String> nodes(Scope scope, String name) {
        Object reply = call("presence lookup",
                (j, end) -> LOOKUP.eval(j, end, List.of(key(scope, name)), List.of(Integer.toString(MAX_NODES).getBytes(StandardCharsets.US_ASCII))));
        Set<String> nodes = new LinkedHashSet<>();
        if (reply instanceof List<?> list) {
            for (Object o : list) {
                if (o instanceof byte[] b) {
                    nodes.add(new String(b, StandardCharsets.UTF_8));
                }
            }
        }
        return nodes;
    }

    @Override
    public void announce(String nodeId, Scope scope, Collection<String> names) {
        byte[] node = nodeId.getBytes(StandardCharsets.UTF_8);
        byte[] ttl = Long.toString(config.presenceTtl().toMillis()).getBytes(StandardCharsets.US_ASCII);
        List<byte[]> keys = new ArrayList<>(Math.min(BATCH, names.size()));
        for (String name : names) {
            keys.add(key(scope, name));
            if (keys.size() == BATCH) {
                List<byte[]> batch = List.copyOf(keys);
                call("presence announce", (j, end) -> ANNOUNCE.eval(j, end, batch, List.of(node, ttl)));
                keys.clear();
            }
        }
        if (!keys.isEmpty()) {
            call("presence announce", (j, end) -> ANNOUNCE.eval(j, end, keys, List.of(node, ttl)));
        }
    }

    @Override
    public void withdraw(String nodeId, Scope scope, Collection<String> names) {
        byte[] node = nodeId.getBytes(StandardCharsets.UTF_8);
        List<byte[]> keys = new ArrayList<>(Math.min(BATCH, names.size()));
        for (String name : names) {
            keys.add(key(scope, name));
            if (keys.size() == BATCH) {
                withdrawBatch(node, keys); // one call, done when it returns: the list is free again
                keys.clear();
            }
        }
        if (!keys.isEmpty()) {
            withdrawBatch(node, keys);
        }
    }

    /** One call: a pipeline of {@code ZREM}s. */
    private void withdrawBatch(byte[] node, List<byte[]> keys) {
        call("presence withdraw", (j, end) -> {
            try (Pipeline p = j.pipelined()) {
                for (byte[] key : keys) {
                    p.zrem(key, node);
                }
                p.sync();
            }
            return null;
        });
    }

    /** A Lua script, called by its digest and sent whole only when Redis does not have it (after a restart). */
    private record Script(byte[] source, byte[] sha) {
        Script(String source) {
            this(source.getBytes(StandardCharsets.UTF_8), sha1(source));
        }

        private static byte[] sha1(String source) {
            try {
                byte[] d = MessageDigest.getInstance("SHA-1").digest(source.getBytes(StandardCharsets.UTF_8));
                return HexFormat.of().formatHex(d).getBytes(StandardCharsets.US_ASCII);
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }

        Object eval(Jedis j, long end, List<byte[]> keys, List<byte[]> args) {
            try {
                return j.evalsha(sha, keys, args);
            } catch (JedisNoScriptException e) {
                within(j, end);
                return j.eval(source, keys, args);
            }
        }
    }
}
