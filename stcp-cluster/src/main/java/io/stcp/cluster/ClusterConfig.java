package io.stcp.cluster;

import io.stcp.Durations;
import io.stcp.cluster.internal.Envelope;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * How a node joins a cluster: its id, where Redis is, and the limits of what travels between nodes.
 *
 * <p>Immutable and validated on construction (the message names the field and the bad value); build
 * one with {@link #builder(String)}. Every node of a cluster uses the same {@code keyPrefix} and,
 * normally, the same TTLs and {@code maxMessageBytes}. No duration may be longer than 365 days.
 *
 * @param nodeId           this node's id, unique in the cluster: 1 to 64 of {@code A-Z a-z 0-9 . _ -}.
 *                         Two running nodes given one id lose each other's broadcasts and sends
 *                         (each takes the other's for its own) and overwrite each other's presence:
 *                         each finds the other's claim of the id at its next presence refresh and
 *                         reports it ({@code cluster.node.duplicate}, ERROR; {@link
 *                         ClusterStats#duplicateNode()}). A node restarted with its id at once is not
 *                         reported (see {@link RedisBus}, Node id). Required.
 * @param redisAddress     Redis, as {@code "host:port"} ({@code "[::1]:6379"} for IPv6), not a URI:
 *                         {@code "redis://host:6379"} is refused. Default
 *                         {@code "127.0.0.1:6379"}. A standalone Redis (or a primary); Redis Cluster
 *                         is not supported (the presence scripts touch keys of several slots).
 * @param redisUser        the ACL user for {@code AUTH}, or null (the default) for the default user.
 *                         Needs {@code redisPassword}: without one no {@code AUTH} is sent.
 * @param redisPassword    the password for {@code AUTH}, or null (the default) for none. Not shown by
 *                         {@link #toString()}.
 * @param keyPrefix        the prefix of every Redis key and channel of this cluster, so that several
 *                         clusters can share one Redis. Default {@code "stcp:"}; 1 to 64 characters,
 *                         no whitespace, ending with {@code ':'}, and no part of it between colons
 *                         {@code u}, {@code g} or {@code node}. The keys and channels are the prefix
 *                         then {@code u:<user>}, {@code g:<group>}, {@code node:<id>} (a node's
 *                         channel, and the key of its id's claim) or {@code all};
 *                         without that rule one cluster's prefix could be another's followed by one
 *                         of those ({@code "app:"} and {@code "app:u:"}: the first's user {@code
 *                         "u:bob"} and the second's user {@code "bob"} would share a key;
 *                         {@code "app:"} and {@code "app:node:"}: the first's node {@code all} would
 *                         receive the second's broadcasts). With it, no key or channel of one valid
 *                         prefix is one of another's: a prefix that begins with another (which ends
 *                         with {@code ':'}) goes on with a part that is none of those.
 * @param presenceTtl      how long a node's presence entry lives without being announced again: the
 *                         longest a dead node stays in lookups. Also the longest a node's close
 *                         goes on withdrawing its names, and with {@code 2 × commandTimeout} the
 *                         longest that close takes ({@link ClusterFanout#close()}): by then every
 *                         entry has expired by itself. Default 15s; at least 100ms and at least
 *                         twice {@code presenceRefresh}.
 * @param presenceRefresh  how often a node announces all its users and groups again, and withdraws
 *                         the ones it no longer has (a user whose connections all ended is withdrawn
 *                         at the latest then). A refresh takes time on a large node (Redis takes
 *                         some 100,000 names a second); the next begins when it ends if that is later,
 *                         and one that takes more than half of {@code presenceTtl - presenceRefresh}
 *                         logs {@code cluster.presence.slow}: raise the TTL. Default 5s; more than 0.
 * @param connectTimeout   how long making one connection to Redis may take: the name lookup of its
 *                         host and the connect (to each of the host's addresses in turn, until one
 *                         takes it) within it; a call's connection gets at most what is left of
 *                         {@code commandTimeout}, handshake included. The subscription's connection
 *                         has this for its connect, then {@code commandTimeout} for its handshake
 *                         ({@code AUTH}, {@code CLIENT SETNAME}), a {@code PING} and the subscribing
 *                         in all: one not subscribed by then is closed and made again. Default 2s;
 *                         more than 0.
 * @param commandTimeout   how long one call to Redis may take in all — a presence lookup, a publish,
 *                         a presence announce — waiting for a free connection, making one, and each
 *                         round trip included: a send makes at most two such calls (one for a
 *                         broadcast). Making a connection includes the name lookup of the Redis
 *                         host and the handshake. Writes are bounded too: a call still running at
 *                         this deadline has its connection closed (reset, and never used again), so
 *                         a write to a Redis that has stopped reading (a command longer than the
 *                         socket's send buffer), or a handshake whose replies each come just within
 *                         the read timeout, fails then; a publish cut so reports an unknown outcome
 *                         only if its {@code EXEC} may have reached Redis. Also how often the
 *                         subscription is pinged: one that has not answered by the next ping is
 *                         dropped and made again. Default 1s; more than 0.
 * @param reconnectDelay   the first wait before reconnecting to Redis, and before announcing this
 *                         node's presence again after a failed step; doubles up to
 *                         {@code reconnectMaxDelay}, each wait shortened by a random part of up
 *                         to a fifth of it (never below 1 ms), so that the nodes that lost the
 *                         same Redis spread out. Default 100ms; at least
 *                         {@link #MIN_RECONNECT_DELAY} (1 ms).
 * @param reconnectMaxDelay the longest wait between reconnects, and between presence retries.
 *                         Default 5s; at least {@code reconnectDelay}.
 * @param maxMessageBytes  the largest payload a cluster send takes (larger: {@link
 *                         IllegalArgumentException}) and a node accepts from the bus (larger: dropped,
 *                         counted as malformed). It also bounds what a node reads of one message from
 *                         Redis ({@link RedisBus}): a message longer than the longest envelope (this
 *                         plus 131,148 bytes) is skipped as it arrives, never held whole, whatever
 *                         Redis lets through. Default 1 MiB; 1 to 16 MiB (Redis disconnects a
 *                         subscriber whose output buffer passes 32 MiB by default).
 * @param inboundQueue     messages received from the bus and not yet delivered that a node keeps;
 *                         beyond it they are dropped and counted ({@link ClusterStats#overflow()}).
 *                         Default 10,000; at least 1.
 * @param inboundMaxBytes  bytes of received, undelivered messages a node keeps, on top of
 *                         {@code inboundQueue}: beyond it they are dropped and counted the same way.
 *                         Default 64 MiB; at least {@code maxMessageBytes} plus 131,148 bytes, the
 *                         longest header (origin, name and key of the longest lengths), so that one
 *                         message of the largest size always fits. A message from the bus longer than
 *                         that is no valid message: it is dropped as malformed before it is queued.
 * @param poolSize         Redis connections for commands (sends, presence), besides the one that
 *                         subscribes; a send waits for a free one within its {@code commandTimeout}.
 *                         Default 8; 1 to 1024.
 * @param closeTimeout     how long a close waits for each of the cluster's threads to end: {@link
 *                         ClusterFanout#close()} for its presence thread (the call under way, within
 *                         {@code commandTimeout} with {@link RedisBus}) and its delivery thread (the
 *                         message under way: a recipient under {@code OverflowPolicy.BLOCK} may hold
 *                         it up to its block timeout), {@link RedisBus#close()} for its subscriber and
 *                         heartbeat threads. One still running then is left to end by itself, logged
 *                         (WARN {@code cluster.close.timeout} or {@code cluster.bus.close.timeout},
 *                         with the thread's name), and the close goes on. It bounds each such wait,
 *                         not the withdrawals of a close ({@code presenceTtl}). Default 10s; more
 *                         than 0.
 */
public record ClusterConfig(
        String nodeId,
        String redisAddress,
        @Nullable String redisUser,
        @Nullable String redisPassword,
        String keyPrefix,
        Duration presenceTtl,
        Duration presenceRefresh,
        Duration connectTimeout,
        Duration commandTimeout,
        Duration reconnectDelay,
        Duration reconnectMaxDelay,
        int maxMessageBytes,
        int inboundQueue,
        long inboundMaxBytes,
        int poolSize,
        Duration closeTimeout) {

    /** Default Redis address. */
    public static final String DEFAULT_REDIS_ADDRESS = "127.0.0.1:6379";
    /** Default key and channel prefix. */
    public static final String DEFAULT_KEY_PREFIX = "stcp:";
    /** Default presence TTL. */
    public static final Duration DEFAULT_PRESENCE_TTL = Duration.ofSeconds(15);
    /** Default presence refresh interval. */
    public static final Duration DEFAULT_PRESENCE_REFRESH = Duration.ofSeconds(5);
    /** Default connect timeout. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(2);
    /** Default command timeout. */
    public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(1);
    /** Default first reconnect wait. */
    public static final Duration DEFAULT_RECONNECT_DELAY = Duration.ofMillis(100);
    /** The shortest {@code reconnectDelay} accepted. */
    public static final Duration MIN_RECONNECT_DELAY = Duration.ofMillis(1);
    /** Default longest reconnect wait. */
    public static final Duration DEFAULT_RECONNECT_MAX_DELAY = Duration.ofSeconds(5);
    /** Default largest payload: 1 MiB. */
    public static final int DEFAULT_MAX_MESSAGE_BYTES = 1 << 20;
    /** Largest {@code maxMessageBytes} allowed: 16 MiB. */
    public static final int MAX_MESSAGE_BYTES_LIMIT = 16 << 20;
    /** Default inbound queue capacity. */
    public static final int DEFAULT_INBOUND_QUEUE = 10_000;
    /** Default byte limit of the inbound queue: 64 MiB. */
    public static final long DEFAULT_INBOUND_MAX_BYTES = 64L << 20;
    /** Default command connection pool size. */
    public static final int DEFAULT_POOL_SIZE = 8;
    /** Default wait for each thread at close. */
    public static final Duration DEFAULT_CLOSE_TIMEOUT = Duration.ofSeconds(10);

    /** What follows the prefix in the keys and channels ({@code u:}, {@code g:}, {@code node:}): no part of a prefix. */
    private static final Set<String> RESERVED_PARTS = Set.of("u", "g", "node");
    private static final Pattern NODE_ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    private static final Duration MIN_TTL = Duration.ofMillis(100);
    /** The longest duration of any field: longer ones would overflow the nanosecond arithmetic of the deadlines. */
    private static final Duration LONGEST = Duration.ofDays(365);

    /** Validates every field; the message names the field and the bad value. */
    public ClusterConfig {
        Objects.requireNonNull(nodeId, "nodeId");
        Objects.requireNonNull(redisAddress, "redisAddress");
        Objects.requireNonNull(keyPrefix, "keyPrefix");
        Objects.requireNonNull(presenceTtl, "presenceTtl");
        Objects.requireNonNull(presenceRefresh, "presenceRefresh");
        Objects.requireNonNull(connectTimeout, "connectTimeout");
        Objects.requireNonNull(commandTimeout, "commandTimeout");
        Objects.requireNonNull(reconnectDelay, "reconnectDelay");
        Objects.requireNonNull(reconnectMaxDelay, "reconnectMaxDelay");
        Objects.requireNonNull(closeTimeout, "closeTimeout");
        if (!NODE_ID.matcher(nodeId).matches()) {
            throw new IllegalArgumentException("nodeId: \"" + nodeId + "\" (expected: 1 to 64 of A-Z a-z 0-9 . _ -)");
        }
        atMostAYear("presenceTtl", presenceTtl);
        atMostAYear("presenceRefresh", presenceRefresh);
        atMostAYear("connectTimeout", connectTimeout);
        atMostAYear("commandTimeout", commandTimeout);
        atMostAYear("reconnectDelay", reconnectDelay);
        atMostAYear("reconnectMaxDelay", reconnectMaxDelay);
        atMostAYear("closeTimeout", closeTimeout);
        RedisAddress.parse(redisAddress); // throws naming the field
        if (redisUser != null && redisPassword == null) { // no AUTH is sent without a password: the user would go unused
            throw new IllegalArgumentException("redisUser: \"" + redisUser + "\" without a redisPassword (expected: both,"
                    + " or neither for the default user without a password)");
        }
        if (redisUser != null && redisUser.isEmpty()) {
            throw new IllegalArgumentException("redisUser: \"\" (expected: an ACL user's name, or null for the default user)");
        }
        if (keyPrefix.isEmpty() || keyPrefix.length() > 64 || keyPrefix.chars().anyMatch(c -> Character.isWhitespace(c) || Character.isISOControl(c))) {
            throw new IllegalArgumentException("keyPrefix: \"" + keyPrefix + "\" (expected: 1 to 64 characters, no whitespace)");
        }
        if (!keyPrefix.endsWith(":") || Arrays.stream(keyPrefix.split(":")).anyMatch(RESERVED_PARTS::contains)) {
            throw new IllegalArgumentException("keyPrefix: \"" + keyPrefix + "\" (expected: ending with ':', no part between colons"
                    + " that is u, g or node: those follow the prefix in the keys and channels, so another cluster's prefix could"
                    + " end where such a part begins and share them)");
        }
        positive("presenceRefresh", presenceRefresh);
        if (presenceTtl.compareTo(MIN_TTL) < 0) {
            throw new IllegalArgumentException("presenceTtl: " + Durations.format(presenceTtl) + " (expected: >= 100ms)");
        }
        if (presenceTtl.compareTo(presenceRefresh.multipliedBy(2)) < 0) {
            throw new IllegalArgumentException("presenceTtl: " + Durations.format(presenceTtl)
                    + " (expected: >= 2 × presenceRefresh " + Durations.format(presenceRefresh) + ")");
        }
        positive("connectTimeout", connectTimeout);
        positive("commandTimeout", commandTimeout);
        if (reconnectDelay.compareTo(MIN_RECONNECT_DELAY) < 0) { // a Redis that refuses at once is not dialled in a tight loop
            throw new IllegalArgumentException("reconnectDelay: " + Durations.format(reconnectDelay)
                    + " (expected: >= " + Durations.format(MIN_RECONNECT_DELAY) + ")");
        }
        if (reconnectMaxDelay.compareTo(reconnectDelay) < 0) {
            throw new IllegalArgumentException("reconnectMaxDelay: " + Durations.format(reconnectMaxDelay)
                    + " (expected: >= reconnectDelay " + Durations.format(reconnectDelay) + ")");
        }
        if (maxMessageBytes < 1 || maxMessageBytes > MAX_MESSAGE_BYTES_LIMIT) {
            throw new IllegalArgumentException("maxMessageBytes: " + maxMessageBytes + " (expected: 1 to " + MAX_MESSAGE_BYTES_LIMIT + ")");
        }
        if (inboundQueue < 1) {
            throw new IllegalArgumentException("inboundQueue: " + inboundQueue + " (expected: >= 1)");
        }
        if (inboundMaxBytes < Envelope.maxLength(maxMessageBytes)) {
            throw new IllegalArgumentException("inboundMaxBytes: " + inboundMaxBytes + " (expected: >= maxMessageBytes + "
                    + Envelope.MAX_HEADER + " = " + Envelope.maxLength(maxMessageBytes)
                    + ", the longest message: the payload with the longest origin, name and key)");
        }
        if (poolSize < 1 || poolSize > 1024) {
            throw new IllegalArgumentException("poolSize: " + poolSize + " (expected: 1 to 1024)");
        }
        positive("closeTimeout", closeTimeout);
    }

    private static void atMostAYear(String field, Duration d) {
        if (d.compareTo(LONGEST) > 0) {
            throw new IllegalArgumentException(field + ": " + Durations.format(d) + " (expected: at most 365 days)");
        }
    }

    private static void positive(String field, Duration d) {
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(field + ": " + Durations.format(d) + " (expected: > 0)");
        }
    }

    /** A builder for node {@code nodeId}, holding the defaults for everything else. */
    public static Builder builder(String nodeId) {
        return new Builder(Objects.requireNonNull(nodeId, "nodeId"));
    }

    /** A builder holding this configuration's values. */
    public Builder toBuilder() {
        return new Builder(nodeId).redisAddress(redisAddress).redisAuth(redisUser, redisPassword).keyPrefix(keyPrefix)
                .presenceTtl(presenceTtl).presenceRefresh(presenceRefresh).connectTimeout(connectTimeout)
                .commandTimeout(commandTimeout).reconnectDelay(reconnectDelay).reconnectMaxDelay(reconnectMaxDelay)
                .maxMessageBytes(maxMessageBytes).inboundQueue(inboundQueue).inboundMaxBytes(inboundMaxBytes).poolSize(poolSize)
                .closeTimeout(closeTimeout);
    }

    /** Every field but the password, which shows as {@code ***} when set. */
    @Override
    public String toString() {
        return "ClusterConfig[nodeId=" + nodeId + ", redisAddress=" + redisAddress + ", redisUser=" + redisUser
                + ", redisPassword=" + (redisPassword == null ? "null" : "***") + ", keyPrefix=" + keyPrefix
                + ", presenceTtl=" + Durations.format(presenceTtl) + ", presenceRefresh=" + Durations.format(presenceRefresh)
                + ", connectTimeout=" + Durations.format(connectTimeout) + ", commandTimeout=" + Durations.format(commandTimeout)
                + ", reconnectDelay=" + Durations.format(reconnectDelay) + ", reconnectMaxDelay=" + Durations.format(reconnectMaxDelay)
                + ", maxMessageBytes=" + maxMessageBytes + ", inboundQueue=" + inboundQueue + ", inboundMaxBytes=" + inboundMaxBytes
                + ", poolSize=" + poolSize + ", closeTimeout=" + Durations.format(closeTimeout) + "]";
    }

    /** Mutable builder for {@link ClusterConfig}; not thread-safe. Validation happens in {@link #build()}. */
    public static final class Builder {
        private String nodeId;
        private String redisAddress = DEFAULT_REDIS_ADDRESS;
        private @Nullable String redisUser;
        private @Nullable String redisPassword;
        private String keyPrefix = DEFAULT_KEY_PREFIX;
        private Duration presenceTtl = DEFAULT_PRESENCE_TTL;
        private Duration presenceRefresh = DEFAULT_PRESENCE_REFRESH;
        private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
        private Duration commandTimeout = DEFAULT_COMMAND_TIMEOUT;
        private Duration reconnectDelay = DEFAULT_RECONNECT_DELAY;
        private Duration reconnectMaxDelay = DEFAULT_RECONNECT_MAX_DELAY;
        private int maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES;
        private int inboundQueue = DEFAULT_INBOUND_QUEUE;
        private long inboundMaxBytes = DEFAULT_INBOUND_MAX_BYTES;
        private int poolSize = DEFAULT_POOL_SIZE;
        private Duration closeTimeout = DEFAULT_CLOSE_TIMEOUT;

        private Builder(String nodeId) {
            this.nodeId = nodeId;
        }

        /** See {@link ClusterConfig#nodeId()}. */
        public Builder nodeId(String nodeId) {
            this.nodeId = Objects.requireNonNull(nodeId, "nodeId");
            return this;
        }

        /** See {@link ClusterConfig#redisAddress()}. */
        public Builder redisAddress(String redisAddress) {
            this.redisAddress = Objects.requireNonNull(redisAddress, "redisAddress");
            return this;
        }

        /** See {@link ClusterConfig#redisPassword()}: the password, for Redis's default user. */
        public Builder redisPassword(@Nullable String redisPassword) {
            this.redisPassword = redisPassword;
            return this;
        }

        /** See {@link ClusterConfig#redisUser()} and {@link ClusterConfig#redisPassword()}. */
        public Builder redisAuth(@Nullable String redisUser, @Nullable String redisPassword) {
            this.redisUser = redisUser;
            this.redisPassword = redisPassword;
            return this;
        }

        /** See {@link ClusterConfig#keyPrefix()}. */
        public Builder keyPrefix(String keyPrefix) {
            this.keyPrefix = Objects.requireNonNull(keyPrefix, "keyPrefix");
            return this;
        }

        /** See {@link ClusterConfig#presenceTtl()}. */
        public Builder presenceTtl(Duration presenceTtl) {
            this.presenceTtl = Objects.requireNonNull(presenceTtl, "presenceTtl");
            return this;
        }

        /** See {@link ClusterConfig#presenceRefresh()}. */
        public Builder presenceRefresh(Duration presenceRefresh) {
            this.presenceRefresh = Objects.requireNonNull(presenceRefresh, "presenceRefresh");
            return this;
        }

        /** See {@link ClusterConfig#connectTimeout()}. */
        public Builder connectTimeout(Duration connectTimeout) {
            this.connectTimeout = Objects.requireNonNull(connectTimeout, "connectTimeout");
            return this;
        }

        /** See {@link ClusterConfig#commandTimeout()}. */
        public Builder commandTimeout(Duration commandTimeout) {
            this.commandTimeout = Objects.requireNonNull(commandTimeout, "commandTimeout");
            return this;
        }

        /** See {@link ClusterConfig#reconnectDelay()}. */
        public Builder reconnectDelay(Duration reconnectDelay) {
            this.reconnectDelay = Objects.requireNonNull(reconnectDelay, "reconnectDelay");
            return this;
        }

        /** See {@link ClusterConfig#reconnectMaxDelay()}. */
        public Builder reconnectMaxDelay(Duration reconnectMaxDelay) {
            this.reconnectMaxDelay = Objects.requireNonNull(reconnectMaxDelay, "reconnectMaxDelay");
            return this;
        }

        /** See {@link ClusterConfig#maxMessageBytes()}. */
        public Builder maxMessageBytes(int maxMessageBytes) {
            this.maxMessageBytes = maxMessageBytes;
            return this;
        }

        /** See {@link ClusterConfig#inboundQueue()}. */
        public Builder inboundQueue(int inboundQueue) {
            this.inboundQueue = inboundQueue;
            return this;
        }

        /** See {@link ClusterConfig#inboundMaxBytes()}. */
        public Builder inboundMaxBytes(long inboundMaxBytes) {
            this.inboundMaxBytes = inboundMaxBytes;
            return this;
        }

        /** See {@link ClusterConfig#poolSize()}. */
        public Builder poolSize(int poolSize) {
            this.poolSize = poolSize;
            return this;
        }

        /** See {@link ClusterConfig#closeTimeout()}. */
        public Builder closeTimeout(Duration closeTimeout) {
            this.closeTimeout = Objects.requireNonNull(closeTimeout, "closeTimeout");
            return this;
        }

        /**
         * The configuration.
         *
         * @throws IllegalArgumentException naming the first invalid field
         */
        public ClusterConfig build() {
            return new ClusterConfig(nodeId, redisAddress, redisUser, redisPassword, keyPrefix, presenceTtl, presenceRefresh,
                    connectTimeout, commandTimeout, reconnectDelay, reconnectMaxDelay, maxMessageBytes, inboundQueue, inboundMaxBytes, poolSize,
                    closeTimeout);
        }
    }
}
