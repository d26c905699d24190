package io.stcp.internal;

import io.stcp.QueueFullException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What a {@link RealTcpClient} keeps while it has no connection: messages in put order, each with
 * its key (null for a plain put) so the next connection's sender can conflate them, bounded by a
 * message count and a byte count (0 = no byte limit). The limits bound what the queue holds
 * together with what a hand-over has taken from it and not yet handed on ({@link #takeAll}, then
 * {@link #handedOn} or {@link #putBack} for each): a hand-over that stalls (a server that does not
 * read) and then breaks puts its rest back, and the queue must not have been refilled meanwhile
 * as if it had been emptied, or every stalled reconnection would add its limit again. Not
 * thread-safe: guarded by the client's lock.
 *
 * <p>An entry's key counts in the bytes it holds as a send queue counts it
 * ({@link BoundedQueue#keyBytes}: a String key two bytes a char), so that keys, which a peer may
 * choose, stay within the byte limit too.
 */
final class OfflineQueue {
    record Entry(@Nullable Object key, byte[] bytes) {
        /** The bytes it counts against the byte limit: its message's and its key's. */
        long size() {
            return bytes.length + BoundedQueue.keyBytes(key);
        }
    }

    private final int maxMessages;
    private final long maxBytes;
    private final ArrayDeque<Entry> entries = new ArrayDeque<>();
    private long bytes;
    private int lentMessages; // taken by hand-overs and not yet handed on or put back
    private long lentBytes;

    OfflineQueue(int maxMessages, long maxBytes) {
        this.maxMessages = maxMessages;
        this.maxBytes = maxBytes;
    }

    /**
     * Appends, or throws {@link QueueFullException} when either limit would be passed; for a
     * message larger than the byte limit, one that no room could take, saying so.
     */
    void add(@Nullable Object key, byte[] message) {
        Entry e = new Entry(key, message);
        long size = e.size();
        if (maxBytes != 0 && size > maxBytes) {
            throw new QueueFullException("message of " + message.length + " bytes"
                    + (size == message.length ? "" : " with a key counted as " + (size - message.length))
                    + " exceeds the offline queue's byte limit of " + maxBytes
                    + " (ClientConfig.offlineQueue(" + maxMessages + ", " + maxBytes + "))");
        }
        int messages = entries.size() + lentMessages;
        long held = bytes + lentBytes;
        if (messages >= maxMessages || (maxBytes != 0 && held + size > maxBytes)) {
            throw new QueueFullException("offline queue full (" + messages + " messages, " + held + " bytes, "
                    + lentMessages + " of them being handed to a new connection; ClientConfig.offlineQueue("
                    + maxMessages + ", " + maxBytes + "))");
        }
        entries.addLast(e);
        bytes += size;
    }

    /** Takes everything, oldest first, for a hand-over: still counted against the limits until handed on or put back. */
    List<Entry> takeAll() {
        List<Entry> all = new ArrayList<>(entries);
        lentMessages += all.size();
        lentBytes += bytes;
        entries.clear();
        bytes = 0;
        return all;
    }

    /** An entry a hand-over took is gone from the client: its sender accepted it, or refused it for good. */
    void handedOn(Entry e) {
        lentMessages--;
        lentBytes -= e.size();
    }

    /**
     * Puts {@code rest}, taken by a hand-over, back in front of what arrived meanwhile, in its order
     * (a connection broke while the queue was handed to it). The limits hold: they counted it all along.
     */
    void putBack(List<Entry> rest) {
        for (int i = rest.size() - 1; i >= 0; i--) {
            Entry e = rest.get(i);
            entries.addFirst(e);
            bytes += e.size();
            handedOn(e);
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
