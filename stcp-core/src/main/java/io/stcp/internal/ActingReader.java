package io.stcp.internal;

import io.stcp.Connection;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * A thread that puts on a connection's behalf what its reader would otherwise have put — a
 * client's offline backlog, handed over while the reader reads the replies — and whose puts
 * therefore wait for room as the reader's do (the queue's patience, see {@code BoundedQueue})
 * instead of failing at once under the default policy. Only puts take it into account; the
 * thread is not the reader in any other respect (it never pays the reader's owed drain, nor
 * reads).
 */
public final class ActingReader {
    private static final ThreadLocal<@Nullable Connection> FOR = new ThreadLocal<>();
    /**
     * How many threads act for a reader now. Asked first, so that a thread asks {@link #FOR} only
     * while one does: a thread's first look at a thread-local makes its map (136 bytes), and every
     * put that is not the recipient reader's asks — a fan-out from a reader, a thread new per
     * resumption, asks once per recipient. A thread that acts counts itself before it sets the
     * mark, so it always finds its own.
     */
    private static final AtomicInteger ACTING = new AtomicInteger();

    private ActingReader() {}

    /** Whether the calling thread acts for {@code connection}'s reader. */
    public static boolean isActingFor(Connection connection) {
        return ACTING.get() != 0 && FOR.get() == connection;
    }

    /** Runs {@code task} on this thread as acting for {@code connection}'s reader. */
    static void run(Connection connection, Runnable task) {
        ACTING.incrementAndGet();
        try {
            FOR.set(connection);
            try {
                task.run();
            } finally {
                FOR.remove();
            }
        } finally {
            ACTING.decrementAndGet();
        }
    }
}
