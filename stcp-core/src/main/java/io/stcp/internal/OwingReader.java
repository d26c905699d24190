package io.stcp.internal;

import org.jspecify.annotations.Nullable;

/**
 * The connection whose drain the calling thread owes as its reader (see {@link QueueWriter}), so
 * that code that has no connection at hand — a fan-out about to wait for room in other
 * connections' queues ({@link Delivery}), a put that finds the server's outbound budget full
 * ({@link BoundedQueue}) — can have it paid first: the reader's own peer would otherwise wait for
 * its replies behind an unrelated recipient, since no one else writes them, and those replies may
 * be what fills the budget.
 *
 * <p>Found through the thread itself: a connection's reader threads are started with its
 * {@link RealConnectionRunner} as their uncaught-exception handler, so the thread names its
 * connection, and the connection's input says whether a drain is owed
 * ({@link ConnectionInput#owesDrain()}, which is what is asked). A thread that is no longer the
 * connection's reader (an exit hook's, say, is still) pays nothing through it. Nothing is marked
 * per drain: a {@code ThreadLocal} set each time the reader took a drain on made a
 * {@code ThreadLocalMap} on each new reader thread — and a read loop that suspends goes on on a
 * new thread, at one message in flight one per message (136 to 343 bytes a message on the epoll
 * transport).
 *
 * <p>The same lookup lets a reader about to wait for room for a put, wherever it puts, give its
 * read buffer back first ({@link #parksBuffer}, {@link ConnectionInput#parkBuffer()}).
 */
final class OwingReader {
    private OwingReader() {}

    /** The connection whose drain the calling thread owes as its reader, or null. */
    static @Nullable RealConnection owing() {
        RealConnection c = readOnThisThread();
        return c != null && c.input().owesDrain() ? c : null;
    }

    /** The connection the calling thread is the reader of, or null. */
    private static @Nullable RealConnection readOnThisThread() {
        if (!(Thread.currentThread().getUncaughtExceptionHandler() instanceof RealConnectionRunner r)) {
            return null;
        }
        RealConnection c = r.realConnection();
        return c.isReaderThread() ? c : null;
    }

    /**
     * The calling thread, if it is a connection's reader, is about to wait for room for a put: its
     * read buffer goes back to the pool, the bytes left kept in an array of their size
     * ({@link ConnectionInput#parkBuffer()}). Only on the way to a wait.
     */
    static void parksBuffer() {
        RealConnection c = readOnThisThread();
        if (c != null) {
            c.input().parkBuffer();
        }
    }

    /**
     * Pays the drain the calling thread owes as a connection's reader, if it does: one batch
     * written (a blocking write, within the write timeout), as before any other wait of the reader.
     * A failure is that connection's: it ends, and what it held is counted there.
     */
    static void payBeforeWaiting() {
        RealConnection c = owing();
        if (c != null) {
            pay(c);
        }
    }

    /** Pays the drain the calling thread owes as {@code c}'s reader ({@link #owing}); see {@link #payBeforeWaiting}. */
    static void pay(RealConnection c) {
        try {
            c.input().payOwedDrain();
        } catch (io.stcp.SendException closed) {
            // no send thread could be started for the rest: the connection is closed and its queue discarded
        }
    }
}
