package io.stcp;

/** The sender is closed or closing; nothing more can be queued. */
public final class SenderClosedException extends SendException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception. */
    public SenderClosedException(String message) {
        super(message);
    }
}
