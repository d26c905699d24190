package io.stcp.cluster;

import java.util.Collection;
import java.util.Set;

/**
 * A bus and presence store with nothing behind them, for tests that play the other nodes through
 * the {@link #listener}: always connected, publishes reach no one (a broadcast counts the node
 * itself), lookups find no node, announces and withdrawals are dropped unless a subclass keeps them.
 */
public class InMemoryBus implements ClusterBus, Presence {
    volatile Listener listener;

    /** A bus of its own, connected once subscribed. */
    public InMemoryBus() {}

    @Override
    public void subscribe(String nodeId, Listener listener) {
        this.listener = listener;
        listener.onConnected();
    }

    @Override
    public boolean isConnected() {
        return true;
    }

    @Override
    public int publish(Collection<String> nodeIds, byte[] message) {
        return 0;
    }

    @Override
    public int publishAll(byte[] message) {
        return 1;
    }

    @Override
    public void close() {
    }

    @Override
    public Set<String> nodes(Scope scope, String name) {
        return Set.of();
    }

    @Override
    public void announce(String nodeId, Scope scope, Collection<String> names) {
    }

    @Override
    public void withdraw(String nodeId, Scope scope, Collection<String> names) {
    }
}
