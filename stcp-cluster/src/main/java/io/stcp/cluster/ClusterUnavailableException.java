package io.stcp.cluster;

import io.stcp.SendException;
import io.stcp.SendResult;

/**
 * A cluster-wide send reached this node's recipients but not the other nodes: the bus is down
 * (not connected, reconnecting) or the call to it failed. Thrown at once, without waiting for the
 * bus; counted in {@link ClusterStats#unavailable()}. Unchecked and cheap, like every
 * {@link SendException}: no stack trace.
 *
 * <p>The local part of the send has been done when this is thrown: {@link #localResult()} says
 * what it did. Nothing is retried or kept for later (delivery is at most once).
 */
public final class ClusterUnavailableException extends SendException {
    private static final long serialVersionUID = 1L;

    private final transient SendResult localResult;

    /** Creates an exception with {@code message} and the result of the local part of the send. */
    public ClusterUnavailableException(String message, SendResult localResult) {
        super(message);
        this.localResult = localResult;
    }

    /** What the send did on this node, to this node's own recipients. */
    public SendResult localResult() {
        return localResult;
    }
}
