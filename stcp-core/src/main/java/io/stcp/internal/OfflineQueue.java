package io.stcp.internal;

import io.stcp.QueueFullException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What a {@link RealTcpClient} keeps while it has no connection: messages in put order, each with
 * its key (null for a plain put) so the next connection's sender can conflate them, bounded by a
 * message count and a byte count (0 = no byte limit). Not thread-safe: guarded by the client's lock.
 */
final class OfflineQueue {
    record Entry(@Nullable Object key, byte[] bytes) {}

    private final int maxMessages;
    private final long maxBytes;
    private final ArrayDeque<Entry> entries = new ArrayDeque<>();
    private long bytes;

    OfflineQueue(int maxMessages, long maxBytes) {
        this.maxMessages = maxMessages;
        this.maxBytes = maxBytes;
    }

    /** Appends, or throws {@link QueueFullException} when either limit would be passed. */
    void add(@Nullable Object key, byte[] message) {
        if (entries.size() >= maxMessages || (maxBytes != 0 && bytes + message.length > maxBytes)) {
            throw new QueueFullException("offline queue full (" + entries.size() + " messages, " + bytes
                    + " bytes; ClientConfig.offlineQueue(" + maxMessages + ", " + maxBytes + "))");
        }
        entries.addLast(new Entry(key, message));
        bytes += message.length;
    }

    /** Takes everything, oldest first. */
    List<Entry> takeAll() {
        List<Entry> all = new ArrayList<>(entries);
        entries.clear();
        bytes = 0;
        return all;
    }

    /**
     * Puts {@code rest} back in front of what arrived meanwhile, in its order (a connection broke
     * while the queue was handed to it); the limits may then be passed by what arrived meanwhile,
     * at most twice over.
     */
    void putBack(List<Entry> rest) {
        for (int i = rest.size() - 1; i >= 0; i--) {
            Entry e = rest.get(i);
            entries.addFirst(e);
            bytes += e.bytes().length;
        }
    }

    boolean isEmpty() {
        return entries.isEmpty();
    }

    /** Discards everything; returns how many messages. */
    int clear() {
        int n = entries.size();
        entries.clear();
        bytes = 0;
        return n;
    }
}
