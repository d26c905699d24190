package io.stcp.internal;

import io.stcp.Connection;
import java.util.concurrent.atomic.AtomicLong;

/** What every stcp sender reports the same way: discarded messages and slow consumers. */
public final class SenderSupport {
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

    /** Whether the calling thread is the one running the connection's reader. */
    public boolean isReaderThread() {
        return connection instanceof RealConnection rc && rc.readerThread == Thread.currentThread();
    }

    public long discardedTotal() {
        return discarded.get();
    }
}
