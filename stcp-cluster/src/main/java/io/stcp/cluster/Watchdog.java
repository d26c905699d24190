package io.stcp.cluster;

import io.stcp.cluster.internal.ClusterThreads;
import io.stcp.cluster.internal.LogLimiter;
import java.io.IOException;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.exceptions.JedisConnectionException;

/**
 * Closes {@link RedisBus}'s connections whose work is still running at its deadline: one thread per
 * bus, whatever the number of calls. A write has no timeout (it waits while Redis reads nothing and
 * the send buffer is full), nor has a handshake as a whole (each of its reads gets the read
 * timeout, not what is left), so what bounds them is the connection closed at the deadline: the
 * blocked write or read fails at once.
 *
 * <p>Each connection has a {@link Watch}; a call arms it with its deadline when it starts and
 * disarms it when it ends, a compare-and-set each: nothing is scheduled or woken per call. The
 * thread looks at the armed watches and sleeps until the earliest deadline among them, or for one
 * {@code tick} (no deadline is armed closer than that: it is the shortest span any work is given),
 * so it wakes at most about twice a tick, and closes a connection at its deadline, not a tick later.
 *
 * <p>States of a watch (its {@link Watch#deadline}): idle ({@link #IDLE}) — armed (the deadline, a
 * {@link System#nanoTime()}) — fired ({@link #FIRED}, final). Only the connection's user arms (idle
 * or armed to armed) and disarms (armed to idle); the thread, and {@link #close()}, fire (armed, or
 * anything at close, to fired), then close the socket. Arming or disarming a fired watch fails: its
 * connection is closed, and must not be pooled again. A socket handed to a fired watch is closed at
 * once ({@link Watch#socket}: the watch's socket is written before its state is read, and the state
 * before the socket is read, so one of the two sides closes it).
 *
 * <p>{@link #close()} fires every watch: the connections still in use fail at once, and a watch made
 * or armed afterwards fails. The thread starts with the first watch and ends with close, and only
 * then: a scan that fails, on an {@link Error} too, is logged ({@code cluster.watchdog.error},
 * WARN) and the next comes a tick later.
 */
final class Watchdog implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Watchdog.class);
    static final long IDLE = Long.MIN_VALUE;
    static final long FIRED = Long.MIN_VALUE + 1;

    private final String threadName;
    private final String redis; // for the log lines, which name the Redis as the bus's do
    private final long tickNanos;
    private final Set<Watch> live = ConcurrentHashMap.newKeySet();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private volatile boolean closed;
    private @Nullable Thread thread; // guarded by lock
    private final LogLimiter errorLog = new LogLimiter(TimeUnit.SECONDS.toNanos(5));
    private final LogLimiter closeLog = new LogLimiter(TimeUnit.SECONDS.toNanos(5));
    /** For tests: runs on the watchdog's thread, under {@link #lock}, before each scan of the watches. */
    volatile @Nullable Runnable beforeScan;

    /**
     * {@code redis}: the address its log lines name; {@code tickNanos}: at most the shortest span
     * from arming to deadline of any watch.
     */
    Watchdog(String threadName, String redis, long tickNanos) {
        this.threadName = threadName;
        this.redis = redis;
        this.tickNanos = Math.max(1, tickNanos);
    }

    /**
     * A new watch, idle, for one connection.
     *
     * @throws JedisConnectionException when this watchdog is closed
     */
    Watch watch() {
        Watch w = new Watch();
        live.add(w); // before the look at closed: a close() that comes after it fires w
        if (closed) {
            w.fire();
            throw new JedisConnectionException("bus closed");
        }
        lock.lock();
        try {
            if (thread == null && !closed) {
                thread = ClusterThreads.start(threadName, this::loop);
            }
        } finally {
            lock.unlock();
        }
        return w;
    }

    private void loop() {
        lock.lock();
        try {
            while (!closed) {
                try {
                    scanAndWait();
                } catch (InterruptedException e) {
                    // nothing here interrupts it, and only close() may end it: the watches still need it
                } catch (RuntimeException | Error e) {
                    // An Error too (out of memory while it scans): only close() may end this thread,
                    // or no deadline would be kept from then on. It waits a tick before the next scan,
                    // so a failure that comes back each time costs a scan and a line per tick at most,
                    // and the lines are held back to one per 5 s.
                    failed(e);
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Logs (held back) a scan that failed and waits a tick, or until close; holding {@link #lock}.
     * Nothing the line throws (out of memory making it, an Error from an appender) escapes: it
     * used to, and ended the thread from within the catch that was to keep it going.
     */
    private void failed(Throwable e) {
        logError("cluster.watchdog.error", errorLog, e);
        try {
            if (!closed) {
                wake.awaitNanos(tickNanos);
            }
        } catch (InterruptedException ignored) {
            // as in the loop: only close() ends it
        }
    }

    /** Logs {@code event} (WARN, one line per 5 s at most: {@code limiter}) for {@code e}; nothing the line throws escapes. */
    private void logError(String event, LogLimiter limiter, Throwable e) {
        try {
            long held = limiter.tryAcquire();
            if (held >= 0) {
                LogLimiter.suppressed(log.atWarn().setMessage(event).addKeyValue("redis", redis).addKeyValue("thread", threadName), held).setCause(e).log();
            }
        } catch (Throwable logFailed) {
            // out of memory even for the line: its caller goes on all the same
        }
    }

    /** Fires the watches past their deadline, then waits (holding {@link #lock}) until the next deadline, a tick, or close. */
    private void scanAndWait() throws InterruptedException {
        Runnable hook = beforeScan;
        if (hook != null) {
            hook.run();
        }
        long now = System.nanoTime();
        long next = now + tickNanos;
        for (Watch w : live) {
            long d = w.deadline.get();
            if (d == FIRED || (d == IDLE && w.isClosed())) {
                live.remove(w);
            } else if (d != IDLE) {
                if (now - d >= 0) {
                    if (w.deadline.compareAndSet(d, FIRED)) {
                        w.closeSocket(); // SO_LINGER 0: a reset, it does not wait for the peer
                        live.remove(w);
                    }
                } else if (d - next < 0) {
                    next = d;
                }
            }
        }
        wake.awaitNanos(next - now);
    }

    /**
     * Fires every watch (their connections close, their work fails at once) and ends the thread.
     * Idempotent; never throws: a socket whose close throws an Error is logged
     * ({@code cluster.watchdog.close.error}) and the others are closed all the same.
     */
    @Override
    public void close() {
        closed = true; // before the look at live: a watch added after it sees closed
        for (Watch w : live) {
            w.fire();
        }
        live.clear();
        lock.lock();
        try {
            wake.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** The deadline of one connection's work: see the class comment for its states. */
    final class Watch {
        final AtomicLong deadline = new AtomicLong(IDLE);
        private volatile @Nullable Socket socket;
        private long armed = IDLE; // the owner's: the value it armed with

        /**
         * Arms this watch: the connection is closed at {@code end} ({@link System#nanoTime()}) unless
         * {@link #disarm()} comes first. Armed already: the deadline moves to {@code end}.
         *
         * @throws JedisConnectionException when the watch has fired (the connection is closed)
         */
        void arm(long end) {
            long value = end == IDLE || end == FIRED ? end + 2 : end; // not a state's value
            long prev = deadline.get();
            if (prev == FIRED || !deadline.compareAndSet(prev, value)) {
                throw new JedisConnectionException("commandTimeout passed (connection closed)");
            }
            armed = value;
            if (closed) {
                fire(); // close() may have looked at this watch before it was armed
                throw new JedisConnectionException("bus closed");
            }
        }

        /** Disarms; false when the watch had fired: the connection is closed (or closing), never to be used again. */
        boolean disarm() {
            return deadline.compareAndSet(armed, IDLE);
        }

        /** Whether this watch has fired: its connection was closed at its deadline, or by close. */
        boolean fired() {
            return deadline.get() == FIRED;
        }

        /** The connection's socket, once connected; closed at once if the watch has fired already. */
        void socket(Socket s) {
            socket = s;
            if (deadline.get() == FIRED) {
                closeSocket();
            }
        }

        void fire() {
            deadline.set(FIRED);
            closeSocket();
        }

        private boolean isClosed() {
            Socket s = socket;
            return s != null && s.isClosed();
        }

        private void closeSocket() {
            Socket s = socket;
            if (s != null) {
                try {
                    s.close();
                } catch (IOException e) {
                    // closed, or it failed already
                } catch (Throwable e) {
                    // An Error (out of memory): whoever closes goes on, close() to the other watches
                    // (it used to stop there, and RedisBus's close() with it), a scan to the next.
                    logError("cluster.watchdog.close.error", closeLog, e);
                }
            }
        }
    }
}
