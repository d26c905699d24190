package io.stcp.cluster;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * A presence store in memory that takes announces and withdrawals as {@link RedisBus} does: in
 * batches of {@link RedisBus#BATCH} names, each a call of its own. Before each batch it runs
 * {@link #beforeBatch} (on the caller's thread), which may throw as a failed call; it remembers
 * the users and groups announced and not withdrawn.
 */
class BatchedPresence extends InMemoryBus {
    private final Set<String> users = new HashSet<>(); // guarded by this
    private final Set<String> groups = new HashSet<>(); // guarded by this
    volatile Consumer<List<String>> beforeBatch = batch -> { };

    @Override
    public void announce(String nodeId, Scope scope, Collection<String> names) {
        for (List<String> batch : batches(names)) {
            beforeBatch.accept(batch);
            synchronized (this) {
                (scope == Scope.USER ? users : groups).addAll(batch);
            }
        }
    }

    @Override
    public void withdraw(String nodeId, Scope scope, Collection<String> names) {
        for (List<String> batch : batches(names)) {
            beforeBatch.accept(batch);
            synchronized (this) {
                (scope == Scope.USER ? users : groups).removeAll(batch);
            }
        }
    }

    private static List<List<String>> batches(Collection<String> names) {
        List<List<String>> batches = new ArrayList<>();
        List<String> batch = new ArrayList<>();
        for (String n : names) {
            batch.add(n);
            if (batch.size() == RedisBus.BATCH) {
                batches.add(batch);
                batch = new ArrayList<>();
            }
        }
        if (!batch.isEmpty()) {
            batches.add(batch);
        }
        return batches;
    }

    synchronized Set<String> groups() {
        return Set.copyOf(groups);
    }

    synchronized boolean hasGroups(Collection<String> names) {
        return groups.containsAll(names);
    }
}
