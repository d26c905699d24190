package io.stcp.cluster.internal;

import io.stcp.cluster.ClusterFanout;
import io.stcp.cluster.Presence.Scope;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * The callers waiting for an announce ({@link ClusterFanout#announceUser}, {@link
 * ClusterFanout#announceGroup}): their futures, by scope and name, until a step of the presence
 * thread takes them all ({@link #take}), with their names, and completes each once it has
 * announced that name — or fails it: the name not bound here when the step looks, the step
 * failed, the bus lost, the fanout closed.
 *
 * <p><b>Thread safety.</b> Not thread-safe: guarded by {@link PresenceSync}'s lock. What a step
 * took ({@link Taken}) is not changed after, and is read by the presence thread and by close()
 * outside the lock. A future completed twice keeps the first outcome: an announce that returned
 * is not undone by a close() that comes after. These futures are this module's own: the callers
 * get stages of them completed each on a virtual thread of its own ({@link PresenceSync#announce}),
 * so that no caller's dependent action runs on the presence or bus thread that completes one here,
 * nor holds up another caller's.
 */
final class AnnounceWaiters {
    private Map<String, List<CompletableFuture<Void>>> users = new HashMap<>();
    private Map<String, List<CompletableFuture<Void>>> groups = new HashMap<>();
    private int count; // futures in both maps

    boolean isEmpty() {
        return count == 0;
    }

    /** Whether {@link RealClusterFanout#MAX_PENDING} futures wait already: a caller more is refused. */
    boolean isFull() {
        return count >= RealClusterFanout.MAX_PENDING;
    }

    void add(Scope scope, String name, CompletableFuture<Void> waiter) {
        (scope == Scope.USER ? users : groups).computeIfAbsent(name, n -> new ArrayList<>(1)).add(waiter);
        count++;
    }

    /** Every waiter now, for a step (or to be failed); none wait after. */
    Taken take() {
        if (count == 0) {
            return Taken.NONE;
        }
        Taken taken = new Taken(users, groups);
        users = new HashMap<>();
        groups = new HashMap<>();
        count = 0;
        return taken;
    }

    /** The waiters one {@link #take} took: see the class comment. */
    static final class Taken {
        static final Taken NONE = new Taken(Map.of(), Map.of());

        private final Map<String, List<CompletableFuture<Void>>> users;
        private final Map<String, List<CompletableFuture<Void>>> groups;

        private Taken(Map<String, List<CompletableFuture<Void>>> users, Map<String, List<CompletableFuture<Void>>> groups) {
            this.users = users;
            this.groups = groups;
        }

        private Map<String, List<CompletableFuture<Void>>> of(Scope scope) {
            return scope == Scope.USER ? users : groups;
        }

        /** The names waited for in {@code scope}. */
        Set<String> names(Scope scope) {
            return of(scope).keySet();
        }

        /** {@code names} have been announced: their waiters complete. */
        void announced(Scope scope, Collection<String> names) {
            Map<String, List<CompletableFuture<Void>>> waiting = of(scope);
            if (waiting.isEmpty()) {
                return;
            }
            for (String n : names) {
                for (CompletableFuture<Void> w : waiting.getOrDefault(n, List.of())) {
                    w.complete(null);
                }
            }
        }

        /** {@code names} had no connection here when the step looked, and were not announced: their waiters fail. */
        void absent(Scope scope, Collection<String> names) {
            Map<String, List<CompletableFuture<Void>>> waiting = of(scope);
            if (waiting.isEmpty()) {
                return;
            }
            for (String n : names) {
                List<CompletableFuture<Void>> ws = waiting.get(n);
                if (ws != null) {
                    IllegalStateException e = notBound(scope, n);
                    for (CompletableFuture<Void> w : ws) {
                        w.completeExceptionally(e);
                    }
                }
            }
        }

        /** Fails every waiter not completed yet with {@code e}. */
        void fail(Throwable e) {
            for (Map<String, List<CompletableFuture<Void>>> waiting : List.of(users, groups)) {
                for (List<CompletableFuture<Void>> ws : waiting.values()) {
                    for (CompletableFuture<Void> w : ws) {
                        w.completeExceptionally(e);
                    }
                }
            }
        }
    }

    /** The failure of a waiter for {@code name}, which no connection of this node is bound to. */
    static IllegalStateException notBound(Scope scope, String name) {
        return new IllegalStateException((scope == Scope.USER ? "user '" : "group '") + name
                + "': no connection of this node is bound to it (expected: announced after bindUser or joinGroup, until"
                + " unbound), so it was not announced");
    }
}
