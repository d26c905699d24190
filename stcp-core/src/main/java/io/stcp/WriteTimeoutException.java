package io.stcp;

import java.net.SocketTimeoutException;

/** A write blocked longer than the write timeout (the peer stopped reading); the connection was closed. */
public final class WriteTimeoutException extends SocketTimeoutException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception. */
    public WriteTimeoutException(String message) {
        super(message);
    }
}
