package io.stcp.framing;

import java.io.IOException;

/**
 * A frame announced or accumulated more bytes than the reader's limit. Thrown before the excess
 * is read or allocated; it ends only the connection it came from.
 */
public final class FrameTooLongException extends IOException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception. */
    public FrameTooLongException(String message) {
        super(message);
    }
}
