package io.stcp.internal;

import java.io.IOException;

/**
 * Thrown to a connection's reader or writer when the poller watching its socket can no longer tell
 * it when the socket is ready: the poller failed signalling it (an allocation failure, a bug), or
 * died. The connection closes as {@link io.stcp.CloseReason#FAILED}; the cause is the poller's.
 */
public final class PollerFailedException extends IOException {
    private static final long serialVersionUID = 1L;

    PollerFailedException(String poller, Throwable cause) {
        super("the " + poller + " poller watching this socket failed: " + cause, cause);
    }
}
