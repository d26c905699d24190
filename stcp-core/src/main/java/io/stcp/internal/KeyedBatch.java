package io.stcp.internal;

import io.stcp.Sender.IntKeyed;
import io.stcp.Sender.StringKeyed;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * A batch of keyed messages for {@link SendQueue#putAll}: the pairs in order, and the batch
 * conflated against itself (each key's last value), which is what the queue ends up holding.
 */
public final class KeyedBatch {
    final Object[] keys;
    final byte[][] values;
    /** Each distinct key with its last value in the batch. */
    final Map<Object, byte[]> last = new HashMap<>();
    /** The bytes of {@link #last}: its values', and its keys' as the queue counts them ({@link BoundedQueue#keyBytes}). */
    final long lastBytes;

    private KeyedBatch(Object[] keys, byte[][] values) {
        this.keys = keys;
        this.values = values;
        long total = 0;
        for (int i = 0; i < keys.length; i++) {
            byte[] previous = last.put(keys[i], values[i]);
            total += values[i].length + (previous == null ? BoundedQueue.keyBytes(keys[i]) : -previous.length);
        }
        this.lastBytes = total;
    }

    public static KeyedBatch ofInt(List<IntKeyed> messages) {
        Object[] keys = new Object[messages.size()];
        byte[][] values = new byte[keys.length][];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = messages.get(i).key();
            values[i] = Objects.requireNonNull(messages.get(i).bytes(), "bytes");
        }
        return new KeyedBatch(keys, values);
    }

    public static KeyedBatch ofString(List<StringKeyed> messages) {
        Object[] keys = new Object[messages.size()];
        byte[][] values = new byte[keys.length][];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = Objects.requireNonNull(messages.get(i).key(), "key");
            values[i] = Objects.requireNonNull(messages.get(i).bytes(), "bytes");
        }
        return new KeyedBatch(keys, values);
    }

    /** Distinct keys in the batch. */
    int size() {
        return last.size();
    }

    /**
     * What putting the batch would add to the queue as it is now: a slot for each key not queued,
     * with its key's bytes and its value's, and the difference in bytes for each key that is.
     *
     * @param queued the bytes queued under a key, or null when the key is not queued
     * @return {slots, bytes}
     */
    long[] need(Function<Object, byte[]> queued) {
        long slots = 0;
        long add = 0;
        for (Map.Entry<Object, byte[]> e : last.entrySet()) {
            byte[] existing = queued.apply(e.getKey());
            slots += existing == null ? 1 : 0;
            add += existing == null ? e.getValue().length + BoundedQueue.keyBytes(e.getKey())
                    : e.getValue().length - (long) existing.length;
        }
        return new long[] {slots, add};
    }
}
