package io.stcp.internal;

/**
 * Thrown inside a {@link SendQueue} put when the CLOSE_CONNECTION policy fires: the queue has
 * discarded its messages and closed; the caller closes the connection. No stack trace.
 */
public final class SlowConsumerException extends Exception {
    private static final long serialVersionUID = 1L;
    private final int discarded;

    /** @param fullness why the queue was full, for the put's {@code QueueFullException} */
    SlowConsumerException(int discarded, String fullness) {
        super(fullness, null, false, false);
        this.discarded = discarded;
    }

    /** The messages the queue discarded. */
    public int discarded() {
        return discarded;
    }
}
