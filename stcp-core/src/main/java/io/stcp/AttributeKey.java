package io.stcp;

import java.util.Objects;

/**
 * A typed key for per-connection state kept on the {@link Connection} itself — a session object, a
 * scratch buffer, what a handshake found out — since one reader instance serves every connection:
 * <pre>{@code
 * static final AttributeKey<Session> SESSION = AttributeKey.of("session");
 * ...
 * Session session = conn.attributeIfAbsent(SESSION, Session::new);
 * }</pre>
 * Keys compare by identity: two keys with the same name are different keys. Keep them in
 * constants.
 *
 * @param <T> the type of the value
 */
public final class AttributeKey<T> {
    private final String name;

    private AttributeKey(String name) {
        this.name = Objects.requireNonNull(name, "name");
    }

    /** A new key; {@code name} is for {@link #toString()} only. */
    public static <T> AttributeKey<T> of(String name) {
        return new AttributeKey<>(name);
    }

    /** The name given to {@link #of}. */
    public String name() {
        return name;
    }

    @Override
    public String toString() {
        return "AttributeKey[" + name + "]";
    }
}
