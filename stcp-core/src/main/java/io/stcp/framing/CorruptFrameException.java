package io.stcp.framing;

import java.io.IOException;

/** A frame header that cannot be right, such as a length that comes out negative. Ends that connection. */
public final class CorruptFrameException extends IOException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception. */
    public CorruptFrameException(String message) {
        super(message);
    }
}
