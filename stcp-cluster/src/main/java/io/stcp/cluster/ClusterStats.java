package io.stcp.cluster;

/**
 * What a {@link ClusterFanout} has counted since it started: one consistent-enough snapshot (each
 * count is read on its own; they may be a few messages apart under load). Every count only grows.
 * Delivery is at most once: every way a message can be lost between nodes has its count here.
 *
 * @param connected    whether the bus is connected now
 * @param published    copies handed to the bus: one per remote node for a user or group send, one
 *                     per broadcast
 * @param nodeGone     copies published to a node's channel that nobody was subscribed to (the
 *                     node died or is reconnecting; its presence expires after the TTL): lost
 * @param unavailable  sends whose remote part failed at once because the bus was down or the call
 *                     to it failed ({@link ClusterUnavailableException}): lost for the other nodes
 * @param outcomeUnknown sends whose publish was handed to the bus but whose answer did not come
 *                     (Redis may have run the {@code EXEC}, and its reply timed out or the
 *                     connection broke): {@link ClusterUnavailableException#outcomeUnknown()}. The
 *                     other nodes may or may not have the message; not retried (that could deliver
 *                     it twice), not counted in {@code published} nor in {@link #lost()}
 * @param received     messages received from other nodes
 * @param delivered    recipients on this node that accepted a received message (their sender
 *                     queued it)
 * @param refused      recipients on this node whose sender refused a received message (full,
 *                     closed): lost for them, and counted in that sender's own statistics too
 * @param unroutable   received messages that found no recipient here (the user left or the group
 *                     emptied after the sender's lookup): lost
 * @param malformed    received messages dropped because they were not a valid envelope, too
 *                     large, or for another cluster: lost, and logged at WARN (rate-limited)
 * @param overflow     received messages dropped because the inbound queue was full
 *                     ({@link ClusterConfig#inboundQueue()} messages or
 *                     {@link ClusterConfig#inboundMaxBytes()} bytes): lost
 * @param discarded    received messages still waiting in the inbound queue when the fanout closed
 *                     ({@link ClusterFanout#close()}), dropped undelivered: lost. Zero until then
 * @param reconnects   times the bus connected again after losing its connection
 * @param presenceFailures steps of this node's presence (announcing and withdrawing a bounded
 *                     number of its users and groups) that failed: Redis refused (out of memory, a
 *                     read-only replica) or did not answer. Each step is done again, not the whole
 *                     refresh it belongs to, after a back-off ({@link
 *                     ClusterConfig#reconnectDelay()} doubling to {@link
 *                     ClusterConfig#reconnectMaxDelay()}), or at once when the bus connects again;
 *                     meanwhile names bound here since may not be found by the other nodes, and
 *                     this node's entries expire after {@link ClusterConfig#presenceTtl()}
 * @param duplicateNode times this node found its id held by another running node (two nodes
 *                     given one {@link ClusterConfig#nodeId()}: an operator's mistake), checked as
 *                     each full presence refresh begins, and logged {@code cluster.node.duplicate}
 *                     (ERROR, rate-limited). Zero in a correct cluster. Until it is mended the two
 *                     lose each other's broadcasts (each takes the other's for its own) and sends
 *                     (each takes itself for the other), uncounted elsewhere, and overwrite each
 *                     other's presence entries
 */
public record ClusterStats(
        boolean connected,
        long published,
        long nodeGone,
        long unavailable,
        long outcomeUnknown,
        long received,
        long delivered,
        long refused,
        long unroutable,
        long malformed,
        long overflow,
        long discarded,
        long reconnects,
        long presenceFailures,
        long duplicateNode) {

    /**
     * Messages lost between nodes, as far as this node can tell: {@code nodeGone + unavailable +
     * unroutable + malformed + overflow + discarded}; not {@code outcomeUnknown}, which may have arrived.
     */
    public long lost() {
        return nodeGone + unavailable + unroutable + malformed + overflow + discarded;
    }
}
