package io.stcp.cluster;

import static io.stcp.cluster.RedisBus.millis;

import io.stcp.Durations;
import java.io.IOException;
import java.net.Socket;
import java.util.NoSuchElementException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.apache.commons.pool2.PooledObject;
import org.apache.commons.pool2.PooledObjectFactory;
import org.apache.commons.pool2.impl.DefaultPooledObject;
import org.apache.commons.pool2.impl.GenericObjectPoolConfig;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.JedisPool;
import redis.clients.jedis.JedisSocketFactory;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisException;

/**
 * {@link RedisBus}'s command calls: up to {@link ClusterConfig#poolSize()} pooled connections, and
 * {@link #call}, which runs a command on one of them within {@link ClusterConfig#commandTimeout()}
 * in all (the wait for a free connection, making one, its handshake, each round trip), enforced
 * by each connection's {@link Watchdog.Watch}.
 *
 * <p><b>Thread safety.</b> Any thread calls; each call has its connection to itself for its
 * duration, and its deadline in {@link #callEnd}, on its own thread, for the connection the pool
 * may make for it.
 */
// JedisPool is deprecated in Jedis 8 in favour of RedisClient, which hides the connection a
// pipeline and a script run on; the pool gives them one Jedis each, and is still supported in 8.x.
@SuppressWarnings("deprecation")
final class RedisCalls {
    private final ClusterConfig config;
    private final String redis; // its address, as the messages name it
    private final JedisClientConfig clientConfig;
    private final RedisSockets sockets;
    private final Watchdog watchdog;
    private final BooleanSupplier isConnected; // the bus's: calls fail at once while it is down
    private final BooleanSupplier isClosed;    // the bus's: says why
    private final Consumer<Jedis> closer;      // the bus's closeQuietly
    private final JedisPool pool;
    /** The end of the command call running on this thread ({@link System#nanoTime()}), for the connection it may make: see {@link #call}. */
    private final ThreadLocal<Long> callEnd = new ThreadLocal<>();

    RedisCalls(ClusterConfig config, String redis, JedisClientConfig clientConfig, RedisSockets sockets, Watchdog watchdog,
            BooleanSupplier isConnected, BooleanSupplier isClosed, Consumer<Jedis> closer) {
        this.config = config;
        this.redis = redis;
        this.clientConfig = clientConfig;
        this.sockets = sockets;
        this.watchdog = watchdog;
        this.isConnected = isConnected;
        this.isClosed = isClosed;
        this.closer = closer;
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
    }

    /** Drops the idle connections (broken by an outage the subscription has just come back from). */
    void clearIdle() {
        pool.clear();
    }

    /** Closes the pool; see {@link RedisBus#close()}. */
    void close() {
        pool.close();
    }

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
    <T> T call(String what, Command<T> command) {
        if (!isConnected.getAsBoolean()) {
            throw new BusException("redis " + redis + ": " + (isClosed.getAsBoolean() ? "closed" : "not connected") + ", " + what + " not sent");
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
            if (e.getCause() instanceof NoSuchElementException) { // the pool's wait ended: every connection was in use
                throw new BusException("redis " + redis + ": " + what + " not sent: no free connection within commandTimeout "
                        + Durations.format(config.commandTimeout()) + " (all poolSize " + config.poolSize()
                        + " in use: Redis slow, or more calls at once than poolSize)", e);
            }
            String cut = System.nanoTime() - end >= 0 ? " (commandTimeout passed: connection closed)" : "";
            throw new BusException("redis " + redis + ": " + what + " failed" + cut + ": " + e.getMessage(), e);
        } finally {
            callEnd.remove();
        }
    }

    /** A command on a pooled connection, whose round trips end by {@code end} ({@link System#nanoTime()}). */
    interface Command<T> {
        T run(Jedis j, long end);
    }

    /** Gives the next round trip on {@code j} what is left until {@code end} as its read timeout; none left: fails. */
    static void within(Jedis j, long end) {
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
                Socket s = sockets.connect(end, watch); // the watch has each socket before its connect
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
            closer.accept(p.getObject()); // an Error too: it would escape the pool's clear() (a new subscription lost) and close()
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

    /** {@code s} with a read timeout of {@code millis}; closed if that fails. */
    static Socket withReadTimeout(Socket s, int millis) {
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

    static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing
        }
    }

}
