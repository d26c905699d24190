package io.stcp;

/** The sender is at capacity (messages or bytes) and its policy is to fail the put. */
public final class QueueFullException extends SendException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception. */
    public QueueFullException(String message) {
        super(message);
    }
}
