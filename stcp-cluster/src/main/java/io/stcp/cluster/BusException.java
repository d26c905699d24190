package io.stcp.cluster;

/**
 * A {@link ClusterBus} or {@link Presence} call failed: the engine is unreachable, timed out or
 * refused the command. Unchecked and cheap (no stack trace): it is expected while the engine is
 * down and is thrown at the rate of the sends.
 */
public class BusException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Creates an exception with {@code message} and no stack trace. */
    public BusException(String message) {
        super(message, null, false, false);
    }

    /** Creates an exception with {@code message}, the engine's own {@code cause}, and no stack trace. */
    public BusException(String message, Throwable cause) {
        super(message, cause, false, false);
    }
}
