package io.stcp.cluster;

import io.stcp.Durations;
import io.stcp.cluster.internal.LogLimiter;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.spi.LoggingEventBuilder;
import redis.clients.jedis.CommandArguments;
import redis.clients.jedis.Connection;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.Protocol;
import redis.clients.jedis.args.Rawable;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.exceptions.JedisException;

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
 * none takes longer for a large node. A lookup returns at most 1024 nodes, and only members that
 * can be node ids (1 to 64 of {@code A-Z a-z 0-9 . _ -}): the script skips any other member (put
 * there by another client of the same Redis, of any length up to Redis's 512 MB) before it
 * answers, so what a lookup reads is bounded whatever is in the set. An announce skips a key that
 * holds something else than a sorted set (logged {@code cluster.presence.skipped}): failing the
 * call on it would fail it again at every retry, and keep the names after it out of presence.
 *
 * <p><b>Node id.</b> As each full presence refresh begins (at start, at every connect, every
 * {@link ClusterConfig#presenceRefresh()}), a node claims its id for the random token of its
 * running instance: the string key {@code <prefix>node:<id>} (keys and channels are apart in
 * Redis), set to the token for {@link ClusterConfig#presenceTtl()}, by one script ({@link
 * #claim}; {@code GET}, {@code SET}, {@code TYPE} and {@code PUBSUB NUMSUB} in it). Found holding
 * another token, it is taken over all the same, and that token is reported if the node's channel
 * has a subscriber besides this one — another running node was given the same id, and the two
 * take the key from each other, each reporting the other, at every refresh — or else taken over
 * silently: its instance has gone (a node that crashed or was stopped and started again at once;
 * Redis drops a dead process's connections at once, a host that vanished without closing them
 * only at its {@code timeout} or {@code tcp-keepalive}, and until then the restarted node is
 * reported too). A subscriber by name that is no node ({@code redis-cli SUBSCRIBE
 * <prefix>node:<id>}) is taken for one only while another token is there. No message costs a
 * round trip more.
 *
 * <p><b>Connections.</b> One for the subscription, held by a virtual thread that reconnects with
 * back-off ({@link ClusterConfig#reconnectDelay()} doubling to {@link
 * ClusterConfig#reconnectMaxDelay()}, each wait up to a fifth shorter at random, so that the nodes
 * that lost the same Redis spread out; starting again only after a subscription that stayed up that
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
 * subscription every {@link ClusterConfig#commandTimeout()}, and when nothing (not a byte: neither
 * the pong nor any part of a message, one being skipped too) has come back by the next one, closes
 * that connection: the subscription is then
 * lost and made again as after any outage. So a silent subscription is noticed within about two command
 * timeouts, and a link that goes silent while subscribing within one (the watchdog, above).
 *
 * <p><b>Closing.</b> Jedis connects a closed connection again on its next command, and the
 * subscriber connection is closed from other threads ({@link #close()}, the heartbeat, the
 * watchdog) while its own thread may be about to use it: a {@code SUBSCRIBE} sent after
 * {@code close()} would make a subscription and a thread that outlive the bus. So a subscriber connection makes its socket once
 * and is never connected again ({@code RedisSubscription.OneShotSockets}; the loop makes a new one), the heartbeat
 * pings only the subscription in place, under the lock, and a subscription that confirms or
 * delivers after {@code close()} closes its connection. Every socket is handed to its connection's
 * watch before it connects ({@code RedisSockets}), so the close, which fires every watch, also ends
 * a connect under way at once (to a Redis whose host drops the SYNs, it used to hold the
 * subscriber thread, and the close with it, for {@code connectTimeout}). The close also fails the
 * name lookup of the Redis host that a connect may be waiting for ({@code HostLookup.close}): a
 * resolver that does not answer (a DNS server gone) used to hold the subscriber thread, and the
 * close, for {@code connectTimeout}; the lookup's own thread ends when the resolver answers.
 *
 * <p><b>Bounds.</b> What a message may cost a subscriber is bounded by {@link
 * ClusterConfig#maxMessageBytes()}, whatever Redis lets through (its {@code
 * client-output-buffer-limit pubsub}, 32 MiB by default, is the operator's to set, and any client
 * allowed {@code PUBLISH} on a node's channel may send that much): the subscriber's input skips a
 * message longer than the longest envelope as it streams past ({@code BulkLimit}), so that Jedis
 * never allocates it, and the listener is told its length ({@link Listener#onTooLong}); the
 * subscription goes on.
 */
// Its parts, each in its own file: RedisSubscription (the subscriber connection, its reconnects and
// its heartbeat), RedisCalls (the pooled connections and a command call within its deadline),
// RedisPresence (the sorted sets and their scripts). This class publishes, and closes them in order.
public final class RedisBus implements ClusterBus, Presence {
    private static final Logger log = LoggerFactory.getLogger(RedisBus.class);
    static final int BATCH = 256;
    static final int MAX_NODES = 1024;


    private final ClusterConfig config;
    /** Redis's address as the lines and messages name it ({@link RedisAddress#format}). */
    private final String redis;
    private final RedisCalls calls;
    /** The Redis host's name lookups: closed with the bus, so that no thread of it waits for one. */
    private final HostLookup lookup;
    private final RedisSubscription subscription;
    private final RedisPresence presence;
    /** Closes the connection of a call, or of a subscriber's set-up, still running at its deadline: see {@code RedisCalls.call}. */
    private final Watchdog watchdog;
    private final String channelPrefix;
    private final byte[] allChannel;
    private final LogLimiter closeLog = new LogLimiter(TimeUnit.SECONDS.toNanos(5));

    /** For tests: runs on the subscribing thread between taking a connection as subscriber and sending {@code SUBSCRIBE} on it. */
    volatile @Nullable Consumer<Jedis> beforeSubscribe;
    /** For tests: runs on the subscribing thread once Redis has confirmed both channels, before {@link Listener#onConnected()}. */
    volatile @Nullable Consumer<Jedis> beforeConnected;
    /** For tests: runs on the heartbeat thread, under the subscription's lock, right before each {@code PING} on it. */
    volatile @Nullable Runnable beforePing;
    /** For tests: runs on the subscribing thread at the start of each attempt, where the attempt's state is made. */
    volatile @Nullable Runnable beforeAttempt;
    /** For tests: runs in {@link #closeQuietly(Jedis)} right before each connection is closed, on the closing thread. */
    volatile @Nullable Consumer<Jedis> beforeClose;

    private RedisBus(ClusterConfig config, HostLookup.Resolver resolver) {
        this.config = config;
        RedisAddress a = RedisAddress.parse(config.redisAddress());
        this.redis = a.format();
        this.lookup = new HostLookup(a.host(), "stcp-cluster-" + config.nodeId() + "-redis-lookup", resolver);
        RedisSockets sockets = new RedisSockets(a.host(), a.port(), millis(config.connectTimeout()), lookup);
        // Every deadline is at least the shortest of the two timeouts away when armed: see Watchdog.
        this.watchdog = new Watchdog("stcp-cluster-" + config.nodeId() + "-redis-watchdog", redis,
                Math.min(config.commandTimeout().toNanos(), config.connectTimeout().toNanos()));
        JedisClientConfig clientConfig = DefaultJedisClientConfig.builder()
                .connectionTimeoutMillis(millis(config.connectTimeout()))
                .socketTimeoutMillis(millis(config.commandTimeout()))
                .user(config.redisUser())
                .password(config.redisPassword())
                .clientName("stcp-" + config.nodeId())
                .autoNegotiateProtocol(false) // RESP2: all this needs, and no warning per connection
                .build();
        this.calls = new RedisCalls(config, redis, clientConfig, sockets, watchdog, this::isConnected, this::isClosed,
                this::closeQuietly);
        this.channelPrefix = config.keyPrefix() + "node:";
        this.allChannel = (config.keyPrefix() + "all").getBytes(StandardCharsets.UTF_8);
        this.presence = new RedisPresence(config, calls, redis);
        this.subscription = new RedisSubscription(this, config, redis, clientConfig, sockets, watchdog, calls, channelPrefix, allChannel);
    }

    /** A bus and presence store on the Redis of {@code config}; nothing is connected until {@link #subscribe}. */
    public static RedisBus create(ClusterConfig config) {
        return create(config, InetAddress::getAllByName);
    }

    /** A bus whose name lookups of the Redis host go to {@code resolver}: for tests. */
    static RedisBus create(ClusterConfig config, HostLookup.Resolver resolver) {
        return new RedisBus(Objects.requireNonNull(config, "config"), resolver);
    }

    static int millis(java.time.Duration d) {
        return (int) Math.min(Integer.MAX_VALUE, Math.max(1, d.toMillis()));
    }

    // ---------------------------------------------------------------- subscription

    @Override
    public void subscribe(String nodeId, Listener listener) {
        subscription.subscribe(nodeId, listener);
    }

    /**
     * Logs {@code event} (WARN) for {@code e}, which its caller caught so as to go on (a thread of
     * the bus to its next round or attempt): with {@code limiter}, at most one line per its
     * interval, saying how many it held back ({@code suppressed}, when it held any). Whatever the line itself throws
     * (out of memory building it, an Error from an appender) is dropped here, so that nothing
     * thrown on the way to the log undoes the catch that called it.
     */
    void logError(String event, @Nullable LogLimiter limiter, Throwable e) {
        try {
            long held = limiter == null ? 0 : limiter.tryAcquire();
            if (held >= 0) {
                LoggingEventBuilder line = log.atWarn().setMessage(event).addKeyValue("redis", redis);
                if (limiter != null) {
                    line = LogLimiter.suppressed(line, held);
                }
                line.setCause(e).log();
            }
        } catch (Throwable logFailed) {
            // out of memory even for the line: the thread goes on all the same
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
    void closeQuietly(Jedis j) {
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
        return subscription.isConnected();
    }

    private boolean isClosed() {
        return subscription.isClosed();
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
        @Nullable Thread @Nullable [] threads = subscription.close();
        if (threads == null) {
            return;
        }
        // Every connection, the ones in use too: calls under way and a subscriber connection being
        // set up fail at once (the loop ends), and any watch made or armed from now on fails; so do
        // the name lookups waited for, which a resolver may not answer within connectTimeout.
        watchdog.close();
        lookup.close();
        for (Thread x : threads) {
            if (x == null) {
                continue;
            }
            try {
                if (!x.join(config.closeTimeout())) { // left to end by itself: the pool is closed all the same
                    try {
                        log.atWarn().setMessage("cluster.bus.close.timeout").addKeyValue("redis", redis)
                                .addKeyValue("thread", x.getName()).addKeyValue("closeTimeout", Durations.format(config.closeTimeout())).log();
                    } catch (Throwable logFailed) {
                        // out of memory even for the line: the close goes on all the same
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            calls.close();
        } catch (RuntimeException e) {
            try {
                log.atDebug().setMessage("cluster.bus.close.pool").addKeyValue("redis", redis).setCause(e).log();
            } catch (Throwable logFailed) {
                // out of memory even for the line: close() never throws
            }
        } catch (Throwable e) { // never throws: an Error too
            logError("cluster.bus.close.error", closeLog, e);
        }
    }

    // ---------------------------------------------------------------- commands

    @Override
    public int publish(Collection<String> nodeIds, byte[] message) {
        if (nodeIds.isEmpty()) {
            return 0;
        }
        List<byte[]> channels = nodeIds.stream().map(this::channel).toList();
        return calls.call("publish", (j, end) -> {
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
        return calls.call("publish", (j, end) -> (int) Math.min(Integer.MAX_VALUE, publishCounting(j, end, List.of(allChannel), message)[0]));
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
        // One Rawable for every PUBLISH, written from the message itself: Jedis's own wrapping of a
        // byte[] argument copies it, which cost a copy of the message per node of a user or group.
        Rawable payload = () -> message;
        for (byte[] channel : channels) {
            c.sendCommand(new CommandArguments(Protocol.Command.PUBLISH).add(channel).add(payload));
            numsub.add(channel);
        }
        c.sendCommand(numsub);
        // First round trip: Redis has queued the commands (or refused one: EXEC then aborts). A
        // failure here publishes nothing: a connection closed in MULTI is discarded by Redis.
        List<Object> queued = c.getMany(channels.size() + 2);
        if (queued.getFirst() instanceof JedisDataException refused) {
            // MULTI refused (an ACL, say): the commands after it ran at once, each PUBLISH with them
            c.setBroken();
            throw new BusException("redis " + redis + ": MULTI refused (" + refused.getMessage()
                    + "), the publish ran outside a transaction: it may have reached nodes", refused, true);
        }
        for (int i = 1; i < queued.size(); i++) {
            if (queued.get(i) instanceof JedisDataException refused) {
                // Refused as it was queued (an ACL without PUBSUB, or without the channel): EXEC would
                // only answer EXECABORT, which names neither the command nor the reason. Nothing runs.
                c.setBroken(); // in MULTI: closed, not pooled; Redis discards what was queued
                String command = i <= channels.size()
                        ? "PUBLISH to " + new String(channels.get(i - 1), StandardCharsets.UTF_8) : "PUBSUB NUMSUB";
                throw new JedisDataException(command + " refused: " + refused.getMessage(), refused);
            }
        }
        long execLeft = Math.max(TimeUnit.MILLISECONDS.toNanos(1), config.commandTimeout().toNanos() / 4);
        if (end - System.nanoTime() < execLeft) {
            // Too little time left for EXEC's reply: a reply that comes a little late would leave the
            // outcome unknown, so nothing is published rather than maybe.
            c.setBroken(); // in MULTI: closed, not pooled; Redis discards what was queued
            throw new JedisConnectionException("less than a quarter of commandTimeout left for EXEC");
        }
        RedisCalls.within(j, end);
        c.sendCommand(Protocol.Command.EXEC);
        List<Object> results;
        try {
            results = c.getObjectMultiBulkReply(); // the PUBLISH counts, then the NUMSUB reply
        } catch (JedisConnectionException e) {
            // EXEC is out and its reply is not in: Redis may have published. Not sent again (it could arrive twice).
            throw new BusException("redis " + redis + ": publish sent, its reply not received: " + e.getMessage(), e, true);
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

    @Override
    public Set<String> nodes(Scope scope, String name) {
        return presence.nodes(scope, name);
    }

    @Override
    public void announce(String nodeId, Scope scope, Collection<String> names) {
        presence.announce(nodeId, scope, names);
    }

    @Override
    public void withdraw(String nodeId, Scope scope, Collection<String> names) {
        presence.withdraw(nodeId, scope, names);
    }

    @Override
    public @Nullable String claim(String nodeId, String instance) {
        return presence.claim(nodeId, instance, channel(nodeId));
    }
}
