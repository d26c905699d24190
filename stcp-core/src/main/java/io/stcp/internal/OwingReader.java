package io.stcp.internal;

import org.jspecify.annotations.Nullable;

/**
 * The connection whose drain the calling thread owes as its reader (see {@link QueueWriter}), so
 * that code that has no connection at hand — a fan-out about to wait for room in other
 * connections' queues ({@link Delivery}) — can have it paid first: the reader's own peer would
 * otherwise wait for its replies behind an unrelated recipient, since no one else writes them.
 *
 * <p>Marked when the reader takes a drain on ({@link #owes}): only with
 * {@link io.stcp.QueueSender.Options#batchReplies} on a transport that tells readiness, and at
 * most once per owed drain. The mark is the thread's own and is left in place when the drain is
 * paid (paying clears the debt in {@link ConnectionInput}, which is what is asked); a thread that
 * is no longer the connection's reader pays nothing through it.
 */
final class OwingReader {
    private static final ThreadLocal<@Nullable RealConnection> OWING = new ThreadLocal<>();

    private OwingReader() {}

    /** The calling thread, {@code connection}'s reader, has just taken a drain on. */
    static void owes(RealConnection connection) {
        OWING.set(connection);
    }

    /**
     * Pays the drain the calling thread owes as a connection's reader, if it does: one batch
     * written (a blocking write, within the write timeout), as before any other wait of the reader.
     * A failure is that connection's: it ends, and what it held is counted there.
     */
    static void payBeforeWaiting() {
        RealConnection c = OWING.get();
        if (c == null || !c.isReaderThread() || !c.input().owesDrain()) {
            return;
        }
        try {
            c.input().payOwedDrain();
        } catch (io.stcp.SendException closed) {
            // no send thread could be started for the rest: the connection is closed and its queue discarded
        }
    }
}
