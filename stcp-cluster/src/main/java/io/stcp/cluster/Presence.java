package io.stcp.cluster;

import java.util.Collection;
import java.util.Set;

/**
 * Where users and groups are: for a name, the nodes that have at least one connection bound to it.
 * Each node announces its own names and announces them again before {@link ClusterConfig#presenceTtl()}
 * has passed; an entry not announced again within that time is gone by itself, so a node that dies
 * without cleaning up disappears from every lookup after at most one TTL. {@link RedisBus} keeps
 * presence in Redis.
 *
 * <p><b>Thread safety.</b> Every method is safe from any thread and throws {@link BusException}
 * when the engine cannot be reached. Each call to the engine is bounded by the operator's command
 * timeout: a lookup is one call; an announce or a withdrawal of many names may be several, each of
 * a bounded number of names (so each can end in time however many names there are), and stops at
 * the first that fails (the names before it are done).
 */
public interface Presence {

    /** The two name spaces: users ({@code bindUser}) and groups ({@code joinGroup}). */
    enum Scope {
        /** User ids. */
        USER,
        /** Group names. */
        GROUP
    }

    /** The nodes where {@code name} is present now (entries whose TTL has passed are not returned). */
    Set<String> nodes(Scope scope, String name);

    /** Announces, or announces again, that {@code nodeId} has {@code names}; each entry lives for the TTL. */
    void announce(String nodeId, Scope scope, Collection<String> names);

    /** Removes {@code nodeId}'s entries for {@code names} at once. */
    void withdraw(String nodeId, Scope scope, Collection<String> names);
}
