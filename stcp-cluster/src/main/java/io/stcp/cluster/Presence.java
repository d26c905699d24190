package io.stcp.cluster;

import java.util.Collection;
import java.util.Set;
import org.jspecify.annotations.Nullable;

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

    /**
     * Claims {@code nodeId} for {@code instance}, the random token of one running {@link
     * ClusterFanout}, for {@link ClusterConfig#presenceTtl()}: called when each full refresh begins
     * (so at start, at every connect and every {@link ClusterConfig#presenceRefresh()}), one call.
     * Returns the token of another instance that holds the id and is live (subscribed) now — two
     * nodes were given one id, a mistake the caller reports — or null: the id was free, this
     * instance's, or held by one that is gone (a node restarted at once); the claim is this
     * instance's from then on either way. By default null: an engine that cannot tell reports nothing.
     */
    default @Nullable String claim(String nodeId, String instance) {
        return null;
    }
}
