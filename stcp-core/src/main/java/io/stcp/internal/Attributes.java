package io.stcp.internal;

import io.stcp.AttributeKey;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * A connection's typed attributes ({@link io.stcp.Connection#attribute(AttributeKey)}). The map
 * is made on first store: a connection that stores nothing pays for this object only. Safe from
 * any thread.
 */
final class Attributes {
    private static final VarHandle MAP = Fields.handle(MethodHandles.lookup(), "map", Map.class);

    private volatile Map<AttributeKey<?>, Object> map; // see map()

    @SuppressWarnings("unchecked")
    <T> T get(AttributeKey<T> key) {
        Objects.requireNonNull(key, "key");
        Map<AttributeKey<?>, Object> m = map;
        return m == null ? null : (T) m.get(key);
    }

    /** Stores {@code value}, or removes the attribute if it is null. */
    <T> void set(AttributeKey<T> key, T value) {
        Objects.requireNonNull(key, "key");
        if (value == null) {
            Map<AttributeKey<?>, Object> m = map;
            if (m != null) {
                m.remove(key);
            }
        } else {
            map().put(key, value);
        }
    }

    @SuppressWarnings("unchecked")
    <T> T ifAbsent(AttributeKey<T> key, Supplier<? extends T> initial) {
        Objects.requireNonNull(key, "key");
        return (T) map().computeIfAbsent(key, k -> Objects.requireNonNull(initial.get(), "initial value"));
    }

    private Map<AttributeKey<?>, Object> map() {
        Map<AttributeKey<?>, Object> m = map;
        if (m == null) {
            m = new ConcurrentHashMap<>(4);
            if (!MAP.compareAndSet(this, null, m)) {
                m = map;
            }
        }
        return m;
    }
}
