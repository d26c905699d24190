package io.stcp.cluster;

import io.stcp.SendException;
import io.stcp.SendResult;

/**
 * A cluster-wide send reached this node's recipients but not the other nodes: the bus is down
 * (not connected, reconnecting) or the call to it failed. Thrown at once while the bus is down,
 * else when the call has failed (at most about {@link ClusterConfig#commandTimeout()}); counted
 * in {@link ClusterStats#unavailable()}. Unchecked and cheap, like every {@link SendException}:
 * no stack trace.
 *
 * <p><b>Outcome unknown.</b> When the publish itself was handed to Redis (its {@code EXEC} sent)
 * and its answer did not come — the reply timed out, the connection broke — Redis may have
 * published the message: the other nodes may have it, or not. Then {@link #outcomeUnknown()} is
 * true, the message says so, and the send is counted in {@link ClusterStats#outcomeUnknown()}
 * instead. A caller that must not deliver twice should not send it again.
 *
 * <p>The local part of the send has been done when this is thrown: {@link #localResult()} says
 * what it did. Nothing is retried or kept for later (delivery is at most once).
 */
public final class ClusterUnavailableException extends SendException {
    private static final long serialVersionUID = 1L;

    private final transient SendResult localResult;
    private final boolean outcomeUnknown;

    /** Creates an exception with {@code message} and the result of the local part of the send: the other nodes did not get it. */
    public ClusterUnavailableException(String message, SendResult localResult) {
        this(message, localResult, false);
    }

    /**
     * Creates an exception with {@code message} and the result of the local part of the send;
     * {@code outcomeUnknown}: the other nodes may have got it (see the class comment).
     */
    public ClusterUnavailableException(String message, SendResult localResult, boolean outcomeUnknown) {
        super(message);
        this.localResult = localResult;
        this.outcomeUnknown = outcomeUnknown;
    }

    /**
     * Whether the other nodes may have got the message nonetheless: the publish was handed to
     * Redis and its answer did not come. False: they did not get it.
     */
    public boolean outcomeUnknown() {
        return outcomeUnknown;
    }

    /** What the send did on this node, to this node's own recipients. */
    public SendResult localResult() {
        return localResult;
    }
}
