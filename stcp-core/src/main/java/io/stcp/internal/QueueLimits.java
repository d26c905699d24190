package io.stcp.internal;

import io.stcp.OverflowPolicy;
import java.util.Objects;

/**
 * What bounds a {@link SendQueue} and what a put does when a message does not fit: the same for
 * every connection of a sender factory, so one object that their queues share rather than six
 * fields in each (an idle connection's queue is most of what it holds).
 *
 * @param maxMessages the most messages queued; 0 = no limit
 * @param maxBytes the most bytes queued; 0 = no limit
 * @param policy what a put does when its message does not fit
 * @param blockTimeoutNanos how long a put waits for room under {@link OverflowPolicy#BLOCK}
 * @param conflate whether keyed puts conflate (latest value wins)
 * @param direct the pool that large plain messages are copied into while they are queued
 */
public record QueueLimits(int maxMessages, long maxBytes, OverflowPolicy policy, long blockTimeoutNanos,
                          boolean conflate, DirectChunks direct) {

    public QueueLimits {
        if (maxMessages < 0 || maxBytes < 0 || blockTimeoutNanos < 0) {
            throw new IllegalArgumentException("maxMessages " + maxMessages + ", maxBytes " + maxBytes
                    + ", blockTimeoutNanos " + blockTimeoutNanos + " (expected: >= 0)");
        }
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(direct, "direct");
    }
}
