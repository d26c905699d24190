package io.stcp;

import java.io.EOFException;

/**
 * The peer ended a TLS connection's TCP stream without sending TLS {@code close_notify} first: the
 * data may have been cut short (by a crashed peer, or by an attacker injecting a FIN). An
 * {@link EOFException}, so a reader that treats end of stream as the end keeps working; the
 * connection ends with {@link CloseReason#PEER_RESET} (not {@link CloseReason#PEER_CLOSED}), so
 * the {@code conn.exit} line and {@link Connection#closeReason()} say the stream was truncated,
 * and replies still queued are discarded rather than written into a connection whose peer is gone.
 * A peer that sends {@code close_notify} ends the stream with a plain {@link EOFException}.
 */
public final class TlsTruncatedException extends EOFException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception. */
    public TlsTruncatedException(String message) {
        super(message);
    }
}
