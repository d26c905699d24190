package io.stcp.cluster;

import java.util.Collection;

/**
 * The pub/sub engine between the nodes of a cluster: one channel per node and one for all nodes.
 * {@link RedisBus} is the implementation stcp ships; another engine plugs in here (with a
 * {@link Presence}) through {@link ClusterFanout#start(ClusterConfig, io.stcp.ConnectionRegistry,
 * ClusterBus, Presence)}.
 *
 * <p>Messages are opaque {@code byte[]}: the bus does not read them, and delivers each at most
 * once to each subscriber that is connected when it is published (no replay, no persistence).
 *
 * <p><b>Thread safety.</b> Every method is safe from any thread. {@link #publish} and
 * {@link #publishAll} are called on the senders' threads (connection readers, virtual threads)
 * and must not wait longer than the operator's command timeout; while the bus knows it is not
 * connected they must fail at once.
 *
 * <p><b>Lifecycle.</b> {@link #subscribe} once, then publish; {@link #close()} ends the
 * subscription and releases everything, is idempotent and never throws.
 */
public interface ClusterBus extends AutoCloseable {

    /** Receives what the bus delivers to this node, on the bus's own thread. */
    interface Listener {
        /** A message published to this node's channel or to all nodes (this node's own included). Must not block. */
        void onMessage(byte[] message);

        /**
         * A message the bus dropped unread because it was longer than {@code limit} bytes, the
         * longest it reads ({@link RedisBus}: the longest envelope of {@link ClusterConfig#maxMessageBytes()}):
         * its bytes were skipped as they arrived, never held whole. Must not block. By default nothing.
         *
         * @param length the message's length, as the engine announced it
         * @param limit  the longest message the bus reads
         */
        default void onTooLong(long length, long limit) {
        }

        /** The subscription is (again) in place: what this node published about itself may be lost and should be published again. */
        void onConnected();

        /** The connection to the engine is lost; the bus reconnects by itself. */
        void onDisconnected(String reason);
    }

    /**
     * Subscribes this node, {@code nodeId}, to its own channel and to the channel of all nodes,
     * and keeps the subscription up (reconnecting with back-off) until {@link #close()}. Returns
     * at once; {@link Listener#onConnected()} tells when the subscription is in place.
     *
     * @throws IllegalStateException if called more than once or after {@link #close()}
     */
    void subscribe(String nodeId, Listener listener);

    /** Whether the subscription is in place now (publishing is then expected to work). */
    boolean isConnected();

    /**
     * Publishes {@code message} to the channel of each node in {@code nodeIds}.
     *
     * @return how many of those nodes got it (the others are gone); a client that only listens to
     *     the bus by a pattern is not counted (one that subscribes to the channel by name may be)
     * @throws BusException at once when not connected, or when the engine failed; {@link
     *     BusException#outcomeUnknown()} when the message was handed to the engine and its answer
     *     did not come (it may have been published: it must not be published again)
     */
    int publish(Collection<String> nodeIds, byte[] message);

    /**
     * Publishes {@code message} to every node, this one included.
     *
     * @return how many nodes got it, this one included; a client that only listens to the bus by
     *     a pattern is not counted (one that subscribes to the channel by name may be)
     * @throws BusException at once when not connected, or when the engine failed; {@link
     *     BusException#outcomeUnknown()} as for {@link #publish}
     */
    int publishAll(byte[] message);

    /** Ends the subscription and closes every connection; idempotent, never throws. */
    @Override
    void close();
}
