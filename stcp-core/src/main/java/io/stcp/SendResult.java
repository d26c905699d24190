package io.stcp;

/**
 * What one fan-out call ({@link Fanout}) did: how many recipients' senders accepted the message
 * and how many refused it, and why. One recipient refusing never makes the call throw.
 *
 * <p>"Accepted" means the recipient's {@link Sender} queued (or conflated, or wrote) the message,
 * under its own policy; it says nothing about the peer having read it. A message accepted by a
 * connection that breaks a moment later is lost with that connection, and counted in its sender's
 * own statistics ({@link QueueSender#stats()}).
 *
 * @param accepted recipients whose sender took the message
 * @param full recipients whose sender refused it for lack of room ({@link QueueFullException}:
 *     FAIL, a BLOCK that timed out, a slow consumer that was disconnected)
 * @param closed recipients whose sender was closed or closing ({@link SenderClosedException}): the
 *     connection was ending, and leaves the registry when its exit hooks have run
 * @param failed recipients whose sender threw anything else (a bug in a custom sender; logged at
 *     WARN, at most one line per second with the number held back)
 * @param forwarded copies handed to other nodes whose own recipients are not counted here: 0 for
 *     a {@link ConnectionRegistry}, which reaches only this process's connections; a cluster-wide
 *     {@link Fanout} counts the nodes it published to
 */
public record SendResult(int accepted, int full, int closed, int failed, int forwarded) {
    /** Nobody to send to. */
    public static final SendResult NONE = new SendResult(0, 0, 0, 0, 0);

    /** Validates: every count is at least 0. */
    public SendResult {
        if (accepted < 0 || full < 0 || closed < 0 || failed < 0 || forwarded < 0) {
            throw new IllegalArgumentException("counts must be >= 0: accepted=" + accepted + ", full=" + full
                    + ", closed=" + closed + ", failed=" + failed + ", forwarded=" + forwarded);
        }
    }

    /** Recipients that refused the message: {@code full + closed + failed}. */
    public int refused() {
        return full + closed + failed;
    }

    /** Recipients counted here: {@code accepted + refused()}. */
    public int recipients() {
        return accepted + refused();
    }

    /** The counts of this call and {@code other} added up, for callers that fan out in several steps. */
    public SendResult plus(SendResult other) {
        return new SendResult(accepted + other.accepted, full + other.full, closed + other.closed,
                failed + other.failed, forwarded + other.forwarded);
    }
}
