package io.stcp.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.LockSupport;

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
 * the JVM, like the JDK's pollers.
 */
final class SelectorPoller {
    private static final long IDLE_SELECT_MILLIS = 1000;

    private final Selector selector;

    private SelectorPoller() throws IOException {
        selector = Selector.open();
        Thread t = new Thread(this::loop, "stcp-unix-poller");
        t.setDaemon(true);
        t.start();
    }

    private static final class Holder {
        static final SelectorPoller SHARED;

        static {
            try {
                SHARED = new SelectorPoller();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot open a selector", e);
            }
        }
    }

    /** The poller shared by every connection of the JVM; started when first used. */
    static SelectorPoller shared() {
        return Holder.SHARED;
    }

    /** Watches {@code channel}, which must be non-blocking, until the registration is closed. */
    Registration register(SocketChannel channel) throws ClosedChannelException {
        Registration r = new Registration();
        r.key = channel.register(selector, 0, r);
        return r;
    }

    /** One channel's readiness flags and waiters. */
    final class Registration {
        private volatile SelectionKey key;
        private volatile boolean readReady;
        private volatile boolean writeReady;
        private volatile Thread readWaiter;
        private volatile Thread writeWaiter;
        private volatile boolean closed;

        /**
         * Waits until the channel may be read ({@code read}) or written, the registration closes,
         * or the thread is interrupted; or until {@code deadlineNanos} (0 = none).
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
                while (!(read ? readReady : writeReady) && !closed && !me.isInterrupted()) {
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
                return true; // closed: the syscall tells the caller
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

        /** Wakes the waiters for good and lets the selector release the channel. Idempotent. */
        void close() {
            closed = true;
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
        while (true) {
            try {
                selector.select(key -> {
                    try {
                        int ready = key.readyOps();
                        key.interestOpsAnd(~ready);
                        ((Registration) key.attachment()).signal(ready);
                    } catch (CancelledKeyException e) {
                        ((Registration) key.attachment()).signal(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
                    }
                }, IDLE_SELECT_MILLIS);
            } catch (Throwable t) {
                // Out of memory, say: every Unix socket of the JVM waits on this loop, so it must not die.
                try {
                    Log.SERVER.atError().setMessage("server.poller.failed").setCause(t).log();
                } catch (Throwable ignored) {
                    // nothing more to do
                }
                LockSupport.parkNanos(this, 10_000_000L);
            }
        }
    }
}
