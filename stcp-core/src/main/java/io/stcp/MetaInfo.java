package io.stcp;

import java.util.function.BiConsumer;

/**
 * Per-connection metadata that appears as structured key-value fields on every log line stcp
 * writes about the connection (Go: {@code MetaInfo}).
 *
 * <p>Any type may implement it; replace it at any time, from any thread, with
 * {@link Connection#metaInfo(MetaInfo)} (for example once a handshake has identified the user).
 * Implementations should be immutable; {@link #forEachField} is called on whichever thread logs.
 */
public interface MetaInfo {

    /** The peer's address as text, e.g. {@code "127.0.0.1:53412"}. */
    String remoteAddress();

    /**
     * Hands each log field to {@code sink}. The default writes {@code remoteAddr}; override to add
     * fields such as a user or session id. An exception thrown here is caught and logged once as
     * a field {@code metaError}; it never breaks the log line or the connection.
     */
    default void forEachField(BiConsumer<String, Object> sink) {
        sink.accept("remoteAddr", remoteAddress());
    }
}
