package io.stcp.cluster;

import io.stcp.cluster.Presence.Scope;
import io.stcp.cluster.internal.LogLimiter;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.exceptions.JedisNoScriptException;

/**
 * {@link RedisBus}'s {@link Presence} on Redis: one sorted set per name, looked up and announced by
 * Lua scripts, withdrawn by pipelined {@code ZREM}s, in batches of {@link RedisBus#BATCH} names a
 * call; see {@link RedisBus}, Presence. Any thread: each batch is a {@link RedisCalls#call} of its own.
 */
final class RedisPresence {
    private static final Script LOOKUP = new Script("""
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
            local found = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf', 'LIMIT', 0, tonumber(ARGV[1]))
            local nodes = {}
            for _, m in ipairs(found) do
              if #m >= 1 and #m <= 64 and not string.find(m, '[^%w%._%-]') then
                nodes[#nodes + 1] = m
              end
            end
            return nodes
            """);
    private static final Script ANNOUNCE = new Script("""
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
            local ttl = tonumber(ARGV[2])
            local skipped = {}
            for _, key in ipairs(KEYS) do
              local t = redis.call('TYPE', key).ok
              if t == 'zset' or t == 'none' then
                redis.call('ZADD', key, now + ttl, ARGV[1])
                redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
                local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
                local at = tonumber(last[2])
                if at and at < 1e15 and at == math.floor(at) then -- a time: not another client's +inf or fraction
                  redis.call('PEXPIREAT', key, last[2])
                end
              else
                skipped[#skipped + 1] = key
              end
            end
            return skipped
            """);

    /**
     * KEYS[1] the id's claim, ARGV: this instance's token, the TTL (ms), the node's channel. The
     * claim becomes this instance's; answers the token it replaced if that was another instance's
     * and the channel has another subscriber than this one (that instance is live), else nil.
     */
    private static final Script CLAIM = new Script("""
            local held = false
            if redis.call('TYPE', KEYS[1]).ok == 'string' then
              held = redis.call('GET', KEYS[1])
            end
            redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
            if not held or held == ARGV[1] then
              return false
            end
            local subs = redis.call('PUBSUB', 'NUMSUB', ARGV[3])
            if tonumber(subs[2]) >= 2 then
              return held
            end
            return false
            """);

    private static final Logger log = LoggerFactory.getLogger(RedisBus.class); // the bus's lines, under its name

    private final ClusterConfig config;
    private final RedisCalls calls;
    private final String redis; // its address, as the lines name it
    private final LogLimiter skippedLog = new LogLimiter(TimeUnit.SECONDS.toNanos(5));

    RedisPresence(ClusterConfig config, RedisCalls calls, String redis) {
        this.config = config;
        this.calls = calls;
        this.redis = redis;
    }

    private byte[] key(Scope scope, String name) {
        return (config.keyPrefix() + (scope == Scope.USER ? "u:" : "g:") + name).getBytes(StandardCharsets.UTF_8);
    }

    Set<String> nodes(Scope scope, String name) {
        Object reply = calls.call("presence lookup",
                (j, end) -> LOOKUP.eval(j, end, List.of(key(scope, name)), List.of(Integer.toString(RedisBus.MAX_NODES).getBytes(StandardCharsets.US_ASCII))));
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

    void announce(String nodeId, Scope scope, Collection<String> names) {
        byte[] node = nodeId.getBytes(StandardCharsets.UTF_8);
        byte[] ttl = Long.toString(config.presenceTtl().toMillis()).getBytes(StandardCharsets.US_ASCII);
        List<byte[]> keys = new ArrayList<>(Math.min(RedisBus.BATCH, names.size()));
        for (String name : names) {
            keys.add(key(scope, name));
            if (keys.size() == RedisBus.BATCH) {
                List<byte[]> batch = List.copyOf(keys);
                skipped(calls.call("presence announce", (j, end) -> ANNOUNCE.eval(j, end, batch, List.of(node, ttl))));
                keys.clear();
            }
        }
        if (!keys.isEmpty()) {
            skipped(calls.call("presence announce", (j, end) -> ANNOUNCE.eval(j, end, keys, List.of(node, ttl))));
        }
    }

    /**
     * Logs the keys an announce skipped ({@code cluster.presence.skipped}, WARN, one line per 5 s at
     * most): they hold something else than a sorted set (another application's key under this
     * prefix), so their names cannot be announced; the rest of the call's names were. Failing the
     * call instead would fail it again at every retry, and hold up every name after it.
     */
    private void skipped(Object reply) {
        if (reply instanceof List<?> list && !list.isEmpty() && list.getFirst() instanceof byte[] first) {
            long held = skippedLog.tryAcquire();
            if (held >= 0) {
                LogLimiter.suppressed(log.atWarn().setMessage("cluster.presence.skipped").addKeyValue("redis", redis)
                        .addKeyValue("key", new String(first, StandardCharsets.UTF_8)).addKeyValue("skipped", list.size())
                        .addKeyValue("why", "not a sorted set (another application's key?)"), held).log();
            }
        }
    }

    void withdraw(String nodeId, Scope scope, Collection<String> names) {
        byte[] node = nodeId.getBytes(StandardCharsets.UTF_8);
        List<byte[]> keys = new ArrayList<>(Math.min(RedisBus.BATCH, names.size()));
        for (String name : names) {
            keys.add(key(scope, name));
            if (keys.size() == RedisBus.BATCH) {
                withdrawBatch(node, keys); // one call, done when it returns: the list is free again
                keys.clear();
            }
        }
        if (!keys.isEmpty()) {
            withdrawBatch(node, keys);
        }
    }

    /** {@link RedisBus#claim}: one call, the key {@code <prefix>node:<id>} (a key: channels are another name space). */
    @Nullable String claim(String nodeId, String instance, byte[] channel) {
        byte[] key = (config.keyPrefix() + "node:" + nodeId).getBytes(StandardCharsets.UTF_8);
        byte[] ttl = Long.toString(config.presenceTtl().toMillis()).getBytes(StandardCharsets.US_ASCII);
        Object reply = calls.call("node id claim",
                (j, end) -> CLAIM.eval(j, end, List.of(key), List.of(instance.getBytes(StandardCharsets.UTF_8), ttl, channel)));
        return reply instanceof byte[] b ? new String(b, StandardCharsets.UTF_8) : null;
    }

    /** One call: a pipeline of {@code ZREM}s. */
    private void withdrawBatch(byte[] node, List<byte[]> keys) {
        calls.call("presence withdraw", (j, end) -> {
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
                RedisCalls.within(j, end);
                return j.eval(source, keys, args);
            }
        }
    }
}
