package io.stcp.cluster;

import org.jspecify.annotations.Nullable;

/**
 * A {@link ClusterBus} or {@link Presence} call failed: the engine is unreachable, timed out or
 * refused the command. Unchecked and cheap (no stack trace): it is expected while the engine is
 * down and is thrown at the rate of the sends.
 *
 * <p>Normally the call did nothing. A publish that was handed to the engine and whose answer did
 * not come (it timed out, the connection broke) may have been done, or not: {@link
 * #outcomeUnknown()} says so, and nothing should retry it (the message could arrive twice).
 */
public class BusException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final boolean outcomeUnknown;

    /** Creates an exception with {@code message} and no stack trace: the call did nothing. */
    public BusException(String message) {
        this(message, null, false);
    }

    /** Creates an exception with {@code message}, the engine's own {@code cause}, and no stack trace: the call did nothing. */
    public BusException(String message, @Nullable Throwable cause) {
        this(message, cause, false);
    }

    /**
     * Creates an exception with {@code message}, the engine's own {@code cause}, and no stack
     * trace; {@code outcomeUnknown}: the call was handed to the engine, and may have been done.
     */
    public BusException(String message, @Nullable Throwable cause, boolean outcomeUnknown) {
        super(message, cause, false, false);
        this.outcomeUnknown = outcomeUnknown;
    }

    /** Whether the call may have been done nonetheless: handed to the engine, its answer never came. */
    public boolean outcomeUnknown() {
        return outcomeUnknown;
    }
}
