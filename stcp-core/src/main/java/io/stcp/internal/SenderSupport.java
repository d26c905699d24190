package io.stcp.internal;

import io.stcp.Connection;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/** What every stcp sender reports the same way: discarded messages and slow consumers. */
public final class SenderSupport {
    /** The longest {@link #lingerAfterFlush} waits. */
    public static final int LINGER_SECONDS = 2;

    private final Connection connection;
    private final AtomicLong discarded = new AtomicLong();

    public SenderSupport(Connection connection) {
        this.connection = connection;
    }

    /** Counts and logs messages discarded by a close; nothing when {@code n} is 0. */
    public void discarded(int n) {
        if (n > 0) {
            discarded.addAndGet(n);
            Log.conn(org.slf4j.event.Level.INFO, "conn.discard", connection).addKeyValue("messages", n).log();
        }
    }

    /** Logs a connection closed as a slow consumer, with the messages it discarded. */
    public void slowConsumer(int n) {
        discarded.addAndGet(n);
        Log.conn(Log.WARN, "conn.slow_consumer", connection).addKeyValue("discarded", n).log();
    }

    /**
     * After a flush that ended with the output shut down: when the peer may still be sending,
     * waits at most {@code timeout} (and {@value #LINGER_SECONDS}s) for the connection's runner to
     * close the connection — its reader reads on until the peer closes. Closing with input left
     * unread would make the kernel send a reset instead of a FIN, and a reset destroys the replies
     * still in the socket's send buffer. No wait when no runner reads the connection, when called
     * on the reader thread, or when the peer is idle (the reader waits for input, none is unread).
     */
    public void lingerAfterFlush(Duration timeout) {
        if (!(connection instanceof RealConnection rc) || !rc.isOutputShutdown()) {
            return;
        }
        Thread reader = rc.readerThread;
        if (reader == null || reader == Thread.currentThread() || rc.isPeerIdle()) {
            return;
        }
        long nanos = Math.min(Math.max(0, timeout.toNanos()), TimeUnit.SECONDS.toNanos(LINGER_SECONDS));
        try {
            rc.awaitClosed(nanos);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Whether the calling thread is the one running the connection's reader. */
    public boolean isReaderThread() {
        return connection instanceof RealConnection rc && rc.readerThread == Thread.currentThread();
    }

    public long discardedTotal() {
        return discarded.get();
    }
}
