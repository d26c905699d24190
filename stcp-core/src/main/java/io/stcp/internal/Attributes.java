package io.stcp.internal;

import io.stcp.AttributeKey;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * A connection's typed attributes ({@link io.stcp.Connection#attribute(AttributeKey)}). Made by
 * the connection on the first store ({@link RealConnection}), so a connection that stores nothing
 * pays nothing. Safe from any thread.
 */
final class Attributes {
    private final Map<AttributeKey<?>, Object> map = new ConcurrentHashMap<>(4);

    @SuppressWarnings("unchecked")
    <T> T get(AttributeKey<T> key) {
        return (T) map.get(Objects.requireNonNull(key, "key"));
    }

    /** Stores {@code value}, or removes the attribute if it is null. */
    <T> void set(AttributeKey<T> key, T value) {
        Objects.requireNonNull(key, "key");
        if (value == null) {
            map.remove(key);
        } else {
            map.put(key, value);
        }
    }

    /**
     * The value of {@code key}, storing {@code initial}'s first if there is none. The supplier is
     * user code: it runs outside the map, holding none of its locks, so it may read and store other
     * attributes (inside {@code computeIfAbsent} such a store failed with "Recursive update") and
     * may block. Threads that race may each run it; the first value stored is kept and returned to
     * every one of them.
     */
    @SuppressWarnings("unchecked")
    <T> T ifAbsent(AttributeKey<T> key, Supplier<? extends T> initial) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(initial, "initial");
        Object value = map.get(key);
        if (value == null) {
            Object made = Objects.requireNonNull(initial.get(), "initial value");
            Object stored = map.putIfAbsent(key, made);
            value = stored != null ? stored : made;
        }
        return (T) value;
    }
}
