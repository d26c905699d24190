package io.stcp;

import io.stcp.internal.RealConnectionRegistry;
import java.util.Collection;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The live connections of a server, findable by id, by user and by group, with sends to each
 * ({@link Fanout}): the piece every chat, game or push server otherwise writes itself.
 *
 * <pre>{@code
 * ConnectionRegistry registry = ConnectionRegistry.create();
 * TcpServer server = TcpServer.create(config, reader, factory).registry(registry).start();
 * // in a reader, after a login:  registry.bindUser(sender, "alice");
 * //                              registry.joinGroup(sender, "room:42");
 * registry.sendToGroup("room:42", message);   // every member's sender, its own policy
 * registry.sendToUser("alice", message);      // her phone and her desktop
 * }</pre>
 *
 * <p><b>Lifecycle.</b> A server given a registry ({@link TcpServer#registry}) adds each connection
 * just before its start hooks run and removes it, with every binding, just after its exit hooks
 * have run: an exit hook still finds the connection, its user and its groups (to tell a room that
 * someone left). A connection that is not in the registry — not yet started, already exited, or
 * from another server — cannot be bound: the bind methods return false. A bind that races with
 * the connection's exit either lands before the removal, which then takes it away, or finds the
 * connection gone; either way nothing stale is left. A registry with no server costs nothing, and
 * a server without a registry does no registry work at all. One registry may serve several
 * servers of one process (a plain and a TLS port): connection ids are unique in the process. The
 * test kit's connections ({@code stcp-test}'s {@code TestConnection.builder(reader).registry(r)})
 * join one the same way, so a reader that binds users and groups is unit-tested without sockets.
 *
 * <p><b>Bindings.</b> A connection has at most one user (one user may have many connections) and
 * any number of groups. Users and groups exist while someone is bound to them. Lookups by id, user
 * or group are O(1) hash lookups; joining or leaving is O(1) for the group and O(g) in the number
 * of groups g of that connection, which keeps them in a small array (designed for a few to a few
 * hundred groups per connection). The registry sets no limit of its own: where peers choose what
 * they join, the application bounds it (the {@code chat} example allows 32 rooms per connection).
 * Memory per binding, measured ({@code stcp-bench registry-memory}, 200,000 connections): about
 * 112 bytes per registered connection, 48 per user binding (28 per connection for a user with
 * two), 14 per membership of a five-member group and 40 to 64 in groups of thousands.
 *
 * <p><b>Thread safety.</b> Every method is safe from any thread. The collections returned are
 * live, unmodifiable and weakly consistent views: iterating one while connections come and go
 * never throws, and meets each connection at most once, even one that leaves the user or group
 * and joins it again meanwhile. A send does the same: it reaches each connection at most once, and
 * every connection that is bound throughout the send exactly once; one that joins (or leaves and
 * joins again) while the send is under way may be reached or not.
 */
public interface ConnectionRegistry extends Fanout {

    /** A new, empty registry; give it to a server with {@link TcpServer#registry}. */
    static ConnectionRegistry create() {
        return new RealConnectionRegistry();
    }

    // ---- lookups

    /** The sender of live connection {@code connectionId} ({@link Connection#id()}), or null. */
    @Nullable Sender connection(long connectionId);

    /** Every registered connection's sender: a live view. */
    Collection<Sender> connections();

    /** Registered connections now. */
    int connectionCount();

    /** The senders of the connections bound to {@code userId}: a live view, empty when none. */
    Collection<Sender> user(String userId);

    /** The senders of the members of {@code group}: a live view, empty when none. */
    Collection<Sender> group(String group);

    /** The users with at least one connection bound: a live view. */
    Set<String> users();

    /** The groups with at least one member: a live view. */
    Set<String> groups();

    /** The user {@code sender}'s connection is bound to, or null. */
    @Nullable String userOf(Sender sender);

    /** The groups {@code sender}'s connection is in, as of now (a copy); empty when none or not registered. */
    Set<String> groupsOf(Sender sender);

    // ---- bindings: a connection is identified by its sender's connection id

    /**
     * Binds {@code sender}'s connection to {@code userId}, replacing the user it was bound to.
     *
     * @return false if the connection is not registered (not started yet, exited, another server's)
     */
    boolean bindUser(Sender sender, String userId);

    /**
     * Binds {@code sender}'s connection to {@code userId} as its only connection: in one step, it
     * binds it (replacing the user it was bound to, as {@link #bindUser} does) and unbinds every
     * other connection bound to {@code userId}. A login that one connection holds at a time is made
     * with it: of several exclusive binds of one user at once, from any threads, exactly one
     * connection is bound when they are done (the last one's), whereas unbinding the others and then
     * binding, in two steps, can leave two bound. A {@link #bindUser} of the same user that runs
     * meanwhile is not exclusive: it may add its connection after this one.
     *
     * <p>The connections unbound stay open and in the registry, in their groups: close them, or tell
     * them why first ("logged in elsewhere"); a send to the user begun before this returned may still
     * reach them. It costs, besides what {@link #bindUser} does, O(n) in the user's n connections.
     *
     * @return the senders of the connections it unbound (a new list: the caller's), empty if none;
     *     empty too, with nothing changed, if {@code sender}'s connection is not registered (not
     *     started yet, exited, another server's), which {@link #userOf} then tells (null)
     */
    Collection<Sender> bindUserExclusively(Sender sender, String userId);

    /**
     * Removes {@code sender}'s connection from its user.
     *
     * @return true if it was bound to one
     */
    boolean unbindUser(Sender sender);

    /**
     * Adds {@code sender}'s connection to {@code group}.
     *
     * @return true if it joined now; false if it was a member already or is not registered
     */
    boolean joinGroup(Sender sender, String group);

    /**
     * Removes {@code sender}'s connection from {@code group}.
     *
     * @return true if it was a member
     */
    boolean leaveGroup(Sender sender, String group);

    // ---- sends to one connection (only meaningful in this process, hence not in Fanout)

    /** Sends to connection {@code connectionId}; a {@link SendResult} of 0 or 1 recipient. */
    SendResult sendTo(long connectionId, byte[] bytes);

    /** Sends under an int key to connection {@code connectionId}. */
    SendResult sendTo(long connectionId, int key, byte[] bytes);

    /** Sends under a string key to connection {@code connectionId}. */
    SendResult sendTo(long connectionId, String key, byte[] bytes);
}
