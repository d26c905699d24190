package io.stcp.internal;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One JDK {@link Selector} on a daemon thread, telling the threads of {@link PolledTransport}s
 * when their non-blocking sockets may be read or written. Used for Unix domain sockets on the JDK
 * transport, whose channels have no socket adaptor and so no read timeout of their own.
 *
 * <p><b>Per wait.</b> A thread that found nothing to read (or no room to write) clears its
 * {@code ready} flag, publishes itself as the waiter, adds the operation to its key's interest
 * set and wakes the selector, then parks until the flag is set, the deadline passes, or the
 * registration closes. The selector thread, for each key it finds ready, first removes the ready
 * operations from the key's interest (one-shot, as the JDK's own poller does), then sets the flag
 * and unparks the waiter. Since every removal is followed by a signal, a wait armed in between is
 * woken and simply tries its syscall again: no wake-up is lost.
 *
 * <p><b>Closing.</b> A registered channel's descriptor is released by the selector when it
 * deregisters the key, so {@link Registration#close()} wakes the selector; the selector also
 * wakes every second by itself, for channels closed some other way. The thread lives as long as
 * the JVM, like the JDK's pollers, unless it dies (below).
 *
 * <p><b>Failures.</b> A key's interest is removed before its signal, so a signal that throws (an
 * allocation failure unparking the waiter, a bug) would leave its waiter parked for good: it fails
 * that registration alone ({@link Registration#fail}: the waiters wake and their transport throws
 * a {@link PollerFailedException}), logged at ERROR ({@code server.poller.signal.failed}); the
 * other keys are signalled as usual. A select that fails is tried again every
 * {@value #RETRY_NANOS} ns, its first failure logged at ERROR ({@code server.poller.failed}); one
 * that has not completed for {@value #GIVE_UP_NANOS} ns cannot continue, and the poller
 * <em>dies</em>. <b>States</b>: alive &rarr; dead, once, on the selector thread: under
 * {@code lock}, which {@link #register} holds from its check to the key's creation, it is marked
 * dead, so a registration either made its key before (and is failed below) or is refused; then
 * every registration is failed, {@code server.poller.dead} logged at ERROR, and the selector
 * closed. {@link #shared()} starts a new poller in place of a dead one.
 */
final class SelectorPoller {
    private static final long IDLE_SELECT_MILLIS = 1000;
    private static final long RETRY_NANOS = 10_000_000L;
    static final long GIVE_UP_NANOS = 1_000_000_000L;

    /**
     * Where tests make the selector thread fail: before each select; after a ready key's interest is
     * removed, where its signal would fail. Null but in tests.
     */
    interface Faults {
        default void beforeSelect() {}

        default void beforeSignal(SelectableChannel channel) {}
    }

    static volatile Faults faults;

    private static final ReentrantLock SHARED_LOCK = new ReentrantLock(); // making the shared poller, once or after a death
    private static volatile SelectorPoller shared; // the live one, or a dead one, or none yet

    private final Selector selector;
    private final ReentrantLock lock = new ReentrantLock();
    private volatile boolean dead; // written under lock

    private SelectorPoller() throws IOException {
        selector = Selector.open();
        Thread t = new Thread(this::loop, "stcp-unix-poller");
        t.setDaemon(true);
        t.start();
    }

    /**
     * The poller shared by every connection of the JVM: started when first used, and again in
     * place of one that died.
     *
     * @throws IOException if it cannot start (no selector can be opened)
     */
    static SelectorPoller shared() throws IOException {
        SelectorPoller p = shared;
        if (p != null && !p.dead) {
            return p;
        }
        SHARED_LOCK.lock();
        try {
            p = shared;
            if (p == null || p.dead) {
                p = new SelectorPoller();
                shared = p;
            }
            return p;
        } finally {
            SHARED_LOCK.unlock();
        }
    }

    /**
     * Watches {@code channel}, which must be non-blocking, with the shared poller; if that poller
     * dies between {@link #shared()} and the registration, with the one that replaces it.
     */
    static Registration watch(SocketChannel channel) throws IOException {
        SelectorPoller p = shared();
        try {
            return p.register(channel);
        } catch (IOException e) {
            if (!p.dead) {
                throw e;
            }
            return shared().register(channel);
        }
    }

    /**
     * Watches {@code channel}, which must be non-blocking, until the registration is closed.
     *
     * @throws IOException if the channel is closed, or this poller died
     */
    Registration register(SocketChannel channel) throws IOException {
        Registration r = new Registration();
        lock.lock();
        try {
            if (dead) {
                throw new IOException("the Unix socket poller is dead");
            }
            r.key = channel.register(selector, 0, r);
        } finally {
            lock.unlock();
        }
        return r;
    }

    /** One channel's readiness flags and waiters. */
    final class Registration {
        private static final VarHandle END = Fields.handle(MethodHandles.lookup(), "end", Object.class);
        /** {@link #end} once its transport closed it ({@link #close()}). */
        private static final Object CLOSED = new Object();
        private volatile SelectionKey key;
        private volatile boolean readReady;
        private volatile boolean writeReady;
        private volatile Thread readWaiter;
        private volatile Thread writeWaiter;
        /** Null while open; then, set once by compare-and-set, {@link #CLOSED} or the cause given to {@link #fail}. */
        private volatile Object end;

        /**
         * Waits until the channel may be read ({@code read}) or written, the registration closes
         * or fails, or the thread is interrupted; or until {@code deadlineNanos} (0 = none).
         *
         * @return false if the deadline passed first
         */
        boolean await(boolean read, long deadlineNanos) {
            Thread me = Thread.currentThread();
            if (read) {
                readReady = false;
                readWaiter = me;
            } else {
                writeReady = false;
                writeWaiter = me;
            }
            try {
                key.interestOpsOr(read ? SelectionKey.OP_READ : SelectionKey.OP_WRITE);
                selector.wakeup();
                while (!(read ? readReady : writeReady) && end == null && !me.isInterrupted()) {
                    if (deadlineNanos == 0) {
                        LockSupport.park(this);
                    } else {
                        long left = deadlineNanos - System.nanoTime();
                        if (left <= 0) {
                            return false;
                        }
                        LockSupport.parkNanos(this, left);
                    }
                }
                return true;
            } catch (CancelledKeyException e) {
                return true; // closed (or failed): the syscall, or failure(), tells the caller
            } finally {
                if (read) {
                    readWaiter = null;
                } else {
                    writeWaiter = null;
                }
            }
        }

        /** Called by the selector thread: {@code ops} are ready. */
        void signal(int ops) {
            if ((ops & (SelectionKey.OP_READ)) != 0) {
                readReady = true;
                unpark(readWaiter);
            }
            if ((ops & SelectionKey.OP_WRITE) != 0) {
                writeReady = true;
                unpark(writeWaiter);
            }
        }

        /**
         * The poller can no longer tell this channel's readiness ({@code cause}): closes, and the
         * woken waiters find {@link #failure()}. A registration closed already stays as it was.
         */
        void fail(Throwable cause) {
            close(cause);
        }

        /** Why the poller gave up on this channel ({@link #fail}), or null. */
        Throwable failure() {
            return end instanceof Throwable cause ? cause : null;
        }

        /** Wakes the waiters for good and lets the selector release the channel. Idempotent. */
        void close() {
            close(CLOSED);
        }

        /**
         * {@link #close()} ({@code how} is {@link #CLOSED}), or {@link #fail} ({@code how} is its
         * cause). The first close decides, in one compare-and-set: a waiter that sees the close
         * sees how, and a close by the owner that came first is not taken for a failure.
         */
        private void close(Object how) {
            if (!END.compareAndSet(this, null, how)) {
                return;
            }
            unpark(readWaiter);
            unpark(writeWaiter);
            key.cancel();
            selector.wakeup();
        }
    }

    private static void unpark(Thread t) {
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    private void loop() {
        long failingSince = 0; // when the selects began to fail, or 0
        while (true) {
            try {
                Faults f = faults;
                if (f != null) {
                    f.beforeSelect();
                }
                selector.select(this::signal, IDLE_SELECT_MILLIS);
                failingSince = 0;
            } catch (Throwable t) {
                // Out of memory, say: try again a little later, in case the pressure eases; give up
                // once no select has completed for GIVE_UP_NANOS (every Unix socket waits for this loop).
                long now = System.nanoTime();
                if (failingSince == 0) {
                    failingSince = now | 1; // never 0
                    logError("server.poller.failed", t);
                } else if (now - failingSince >= GIVE_UP_NANOS) {
                    die(t);
                    return;
                }
                LockSupport.parkNanos(this, RETRY_NANOS);
            }
        }
    }

    /** Signals one ready key; one whose signal fails is failed alone (see "Failures" above). */
    private void signal(SelectionKey key) {
        Registration r = (Registration) key.attachment();
        try {
            try {
                int ready = key.readyOps();
                key.interestOpsAnd(~ready);
                Faults f = faults;
                if (f != null) {
                    f.beforeSignal(key.channel());
                }
                r.signal(ready);
            } catch (CancelledKeyException e) {
                r.signal(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
            }
        } catch (Throwable t) {
            try {
                r.fail(t);
            } catch (Throwable ignored) {
                // its flags are set: its waiters' next wake-up, whatever it is, finds them
            }
            logError("server.poller.signal.failed", t);
        }
    }

    /** The selector thread cannot continue ({@code cause}): see "Failures" above. */
    private void die(Throwable cause) {
        lock.lock();
        try {
            dead = true;
        } finally {
            lock.unlock();
        }
        int connections = 0;
        try {
            for (SelectionKey key : selector.keys()) { // a concurrent set: no key is added any more
                connections++;
                try {
                    ((Registration) key.attachment()).fail(cause);
                } catch (Throwable ignored) {
                    // its flags are set: its waiters' next wake-up, whatever it is, finds them
                }
            }
        } catch (Throwable t) {
            cause.addSuppressed(t);
        }
        try {
            Log.SERVER.atError().setMessage("server.poller.dead").addKeyValue("connections", connections)
                    .setCause(cause).log();
        } catch (Throwable ignored) {
            // the registrations are failed all the same
        }
        try {
            selector.close();
        } catch (Throwable ignored) {
            // best effort: its keys are cancelled, its channels owned by their transports
        }
    }

    private static void logError(String event, Throwable t) {
        try {
            Log.SERVER.atError().setMessage(event).setCause(t).log();
        } catch (Throwable ignored) {
            // nothing more to do
        }
    }
}
