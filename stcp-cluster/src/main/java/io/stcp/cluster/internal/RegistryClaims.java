package io.stcp.cluster.internal;

import io.stcp.ConnectionRegistry;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * The registries a {@link RealClusterFanout} serves: one fanout per registry at a time. A second
 * fanout on one registry subscribes and announces the same connections again, so every message
 * from another node reaches them twice (under another node id, a send from this node too: its
 * twin is one more node to publish to), and closing one withdraws the names the other still
 * serves (a cluster test showed each of these). Nothing in the messages can tell the two apart,
 * so the second is refused before it starts anything.
 *
 * <p><b>States.</b> A registry is free (not in {@link #CLAIMS}) or claimed by one fanout (mapped
 * to it). {@link #claim} takes a free registry or throws, atomically, so that of two fanouts
 * started at once on one registry exactly one gets it; {@link #release} frees it, only for the
 * fanout that holds it: at the end of that fanout's close, or of a start that failed after the
 * claim. Registries are compared by identity (one object, whatever its {@code equals}). Costs
 * nothing per message: only start and close come here.
 */
final class RegistryClaims {
    private static final Map<ConnectionRegistry, RealClusterFanout> CLAIMS = Collections.synchronizedMap(new IdentityHashMap<>());

    private RegistryClaims() {
    }

    /**
     * Claims {@code registry} for {@code fanout}.
     *
     * @throws IllegalStateException if another fanout holds it: nothing is changed
     */
    static void claim(ConnectionRegistry registry, RealClusterFanout fanout) {
        RealClusterFanout holder = CLAIMS.putIfAbsent(registry, fanout);
        if (holder != null) {
            throw new IllegalStateException("registry: already served by the running ClusterFanout of node '" + holder.nodeId()
                    + "' (expected: one ClusterFanout per registry; share that instance, which is safe from any thread,"
                    + " rather than start one per reader or handler, or close it before starting another)");
        }
    }

    /** Frees {@code registry} if {@code fanout} holds it; a registry claimed by another fanout is left to it. */
    static void release(ConnectionRegistry registry, RealClusterFanout fanout) {
        CLAIMS.remove(registry, fanout);
    }
}
