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
 * <p><b>A wait for room.</b> One rule for every wait for room for a put a reader makes, whichever
 * queue it waits at — its own, another connection's ({@code registry.connection(id).put}, a
 * {@link io.stcp.Sender} it holds), a fan-out's recipients — and for the server's outbound budget:
 * first, with no queue's lock held, it pays the drain it owes and gives its read buffer back
 * ({@link #readyToWait}). Its own peer's replies never wait behind another queue's room (until
 * the block timeout, if that queue stays full), two readers putting into each other's full queues
 * do not each wait for the other, and the replies lent from the read buffer, written by that
 * drain, no longer keep the buffer from being parked ({@link ConnectionInput#parkBuffer()}).
 */
final class OwingReader {
    private OwingReader() {}

    /** The connection whose drain the calling thread owes as its reader, or null. */
    static @Nullable RealConnection owing() {
        RealConnection c = reader();
        return c != null && c.input().owesDrain() ? c : null;
    }

    /** The connection the calling thread is the reader of, or null. */
    static @Nullable RealConnection reader() {
        if (!(Thread.currentThread().getUncaughtExceptionHandler() instanceof RealConnectionRunner r)) {
            return null;
        }
        RealConnection c = r.realConnection();
        return c.isReaderThread() ? c : null;
    }

    /**
     * The calling thread, {@code c}'s reader ({@link #reader()}), is about to wait for room for a
     * put, in any queue, or for the server's outbound budget, and holds no queue's lock: it pays
     * the drain it owes, if it does ({@link #pay}), then gives its read buffer back, the bytes left
     * kept in an array of their size ({@link ConnectionInput#parkBuffer()}: a copy of up to
     * 64 KiB, which under a queue's lock would hold up that queue's other puts and its writer).
     * Only on the way to a wait.
     */
    static void readyToWait(RealConnection c) {
        if (c.input().owesDrain()) {
            pay(c);
        }
        c.input().parkBuffer();
    }

    /** {@link #readyToWait(RealConnection)} if the calling thread is a connection's reader. */
    static void readyToWait() {
        RealConnection c = reader();
        if (c != null) {
            readyToWait(c);
        }
    }

    /**
     * Pays the drain the calling thread owes as {@code c}'s reader ({@link #owing}): one batch
     * written (a blocking write, within the write timeout), as before any other wait of the reader.
     * A failure is that connection's: it ends, and what it held is counted there.
     */
    static void pay(RealConnection c) {
        try {
            c.input().payOwedDrain();
        } catch (io.stcp.SendException closed) {
            // no send thread could be started for the rest: the connection is closed and its queue discarded
        }
    }
}
