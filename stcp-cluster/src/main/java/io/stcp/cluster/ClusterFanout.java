package io.stcp.cluster;

import io.stcp.ConnectionRegistry;
import io.stcp.Fanout;
import io.stcp.SendResult;
import io.stcp.Sender;
import io.stcp.cluster.internal.RealClusterFanout;
import java.util.Collection;
import java.util.concurrent.CompletableFuture;

/**
 * The {@link Fanout} calls of a {@link ConnectionRegistry} — {@code sendToUser}, {@code
 * sendToGroup}, {@code broadcast} and their keyed forms — for a whole cluster of stcp servers:
 * this node's recipients are served directly through its registry, the other nodes' through the
 * {@link ClusterBus}, and each node delivers to its own recipients through their own senders
 * (their queue limits, overflow policy and conflation apply, per connection, as for a local send).
 *
 * <pre>{@code
 * ConnectionRegistry local = ConnectionRegistry.create();
 * ClusterFanout cluster = ClusterFanout.start(
 *         ClusterConfig.builder("node-a").redisAddress("10.0.0.7:6379").build(), local);
 * TcpServer server = TcpServer.create(config, reader, factory).registry(local).start();
 * // in a reader, after a login:  cluster.bindUser(sender, "alice");
 * //                              cluster.joinGroup(sender, "room:42");
 * cluster.sendToUser("bob", message);        // wherever bob is connected
 * cluster.sendToGroup("room:42", message);   // every member, on every node, once
 * }</pre>
 *
 * <p><b>Presence.</b> A node announces the users and groups of its registry ({@link Presence}),
 * again every {@link ClusterConfig#presenceRefresh()}; an entry lives {@link
 * ClusterConfig#presenceTtl()}. Binding through this object ({@link #bindUser}, {@link #joinGroup})
 * announces the name at once (on a background thread, after the call has returned); a binding made
 * on the registry directly is announced at the next refresh. To know when the other nodes can find
 * a name — to tell a client "you are online" only once others can message it — wait for the future
 * of {@link #announceUser} or {@link #announceGroup}, for as long as the caller chooses. A name
 * this node no longer has is withdrawn at the next refresh (or at once through {@link
 * #unbindUser}/{@link #leaveGroup}); until then, messages for it reach
 * nobody here and are counted as {@link ClusterStats#unroutable()}. Announces and withdrawals go to
 * Redis in steps of a bounded number of names (a full refresh, 1,024 at a time); a step that Redis
 * refuses or does not answer is counted ({@link ClusterStats#presenceFailures()}) and done again
 * after a back-off, {@link ClusterConfig#reconnectDelay()} doubling to {@link
 * ClusterConfig#reconnectMaxDelay()} (at once when the bus connects again): a refresh goes on from
 * the step that failed, not from its start.
 *
 * <p><b>Node ids.</b> Each node's id must be its own. Two running nodes given one id (an
 * operator's mistake) cannot tell each other's messages from their own; so each full refresh
 * first claims the id for this running instance ({@link Presence#claim}), and a node that finds it
 * held by another running instance counts it ({@link ClusterStats#duplicateNode()}) and logs
 * {@code cluster.node.duplicate} (ERROR, rate-limited), naming the id, at every refresh until
 * one of them is stopped. The start is not refused: it returns before Redis is reached.
 *
 * <p><b>Delivery: at most once.</b> A message is not retried, acknowledged or kept: it reaches the
 * recipients connected when it arrives on their node, or is lost, and every loss this node can see
 * is counted ({@link #stats()}): the bus down ({@link ClusterUnavailableException}), a node gone
 * (published to a channel nobody listens to), no recipient left, a full inbound queue, a malformed
 * message. A publish Redis may have run but whose reply never came is neither: its outcome is
 * unknown ({@link ClusterUnavailableException#outcomeUnknown()}, {@link ClusterStats#outcomeUnknown()}).
 * Messages from one node to another arrive in the order sent; a group send and a user send
 * may interleave differently on different nodes.
 *
 * <p><b>Waiting.</b> The local part waits as a {@link ConnectionRegistry} send does. The remote
 * part costs the caller a presence lookup (one Redis round trip) and a publish (two: the commands
 * queued, then {@code EXEC}; a broadcast is the publish alone), each call at most {@link
 * ClusterConfig#commandTimeout()} in all, a wait for a pooled connection or the making of one
 * included; while the bus is down it costs nothing: {@link ClusterUnavailableException} at once. Delivery on the receiving node runs
 * on its own thread, never on the bus's, one message at a time and in order; a recipient whose
 * sender waits for room ({@code OverflowPolicy.BLOCK}) holds it up to its block timeout, while
 * what arrives meanwhile waits in the bounded inbound queue.
 *
 * <p><b>Results.</b> {@link SendResult#accepted()} etc. count this node's recipients;
 * {@link SendResult#forwarded()} counts the other nodes that received the message (their
 * recipients are counted there, in {@link ClusterStats#delivered()}).
 *
 * <p><b>Failure.</b> A payload over {@link ClusterConfig#maxMessageBytes()}, or a name or key over
 * 65,535 UTF-8 bytes or with a lone surrogate (UTF-8 cannot carry it: it would name another user,
 * group or key): {@link IllegalArgumentException} before anything is sent; so for {@link #bindUser}
 * and {@link #joinGroup}. Bus down, or a
 * call to it failed: {@link ClusterUnavailableException} after the local part, with its result;
 * the other nodes did not get the message, unless {@link ClusterUnavailableException#outcomeUnknown()}
 * (the publish was sent and its reply did not come: they may have it).
 *
 * <p><b>Thread safety.</b> Every method is safe from any thread, readers and hooks included.
 *
 * <p><b>Lifecycle.</b> {@link #start} subscribes and returns at once (the bus connects in the
 * background; sends fail fast until it has). One registry is served by one {@code ClusterFanout}
 * at a time: a second started on it, while the first runs, is refused ({@link
 * IllegalStateException}, nothing started, a bus given to it neither subscribed nor closed), since
 * two would each deliver every message from the other nodes (twice to every recipient) and each
 * withdraw, closing, the names the other still serves. Share the one instance (every method is
 * safe from any thread); once its {@link #close()} has returned, the registry is free for another.
 * {@link #close()} withdraws this node's presence (best effort: in calls of a bounded number of
 * names, the first that fails ends it, and the entries left expire within the TTL; a node of a
 * million names takes seconds), closes the bus and ends
 * the module's threads; it does not close the registry or its connections. It waits for the
 * presence call under way, if any (the rest of that round is dropped; for at most {@link
 * ClusterConfig#closeTimeout()}, as for each thread it ends), then withdraws for at most
 * {@link ClusterConfig#presenceTtl()} (and the call under way then): by then every entry of this
 * node has expired by itself, so what is left is given up and logged once ({@code
 * cluster.close.withdraw.timeout}, WARN, with the count left). With {@link RedisBus}, whose calls
 * each end within {@link ClusterConfig#commandTimeout()}, close so takes at most {@code
 * presenceTtl + 2 × commandTimeout}, and the bus's own close (its threads end at once).
 * Idempotent.
 */
public interface ClusterFanout extends Fanout, AutoCloseable {

    /**
     * Joins the cluster of {@code config} on Redis ({@link RedisBus}) for the connections of {@code registry}.
     *
     * @throws IllegalStateException if another {@code ClusterFanout} serves {@code registry} and
     *     is not closed: see the class comment, Lifecycle
     */
    static ClusterFanout start(ClusterConfig config, ConnectionRegistry registry) {
        RedisBus bus = RedisBus.create(config);
        try {
            return start(config, registry, bus, bus);
        } catch (Throwable e) { // an Error too (out of memory starting): the bus is closed all the same
            bus.close();
            throw e;
        }
    }

    /**
     * Joins a cluster through another engine: {@code bus} and {@code presence}, which this object
     * then owns (its {@link #close()} closes the bus). The Redis fields of {@code config} are not
     * read.
     *
     * @throws IllegalStateException if another {@code ClusterFanout} serves {@code registry} and
     *     is not closed (see the class comment, Lifecycle): {@code bus} is then left as it was, the
     *     caller's
     */
    static ClusterFanout start(ClusterConfig config, ConnectionRegistry registry, ClusterBus bus, Presence presence) {
        return RealClusterFanout.start(config, registry, bus, presence);
    }

    /** This node's id ({@link ClusterConfig#nodeId()}). */
    String nodeId();

    /** The registry of this node's connections. */
    ConnectionRegistry local();

    /** Whether the bus is connected now: remote sends are attempted only then. */
    boolean isConnected();

    /** What has been counted so far. */
    ClusterStats stats();

    /**
     * {@link ConnectionRegistry#bindUser} on the local registry, then announces the user to the
     * cluster at once, on the presence thread: this returns before the other nodes can find the
     * user, and a send from one of them meanwhile reaches nobody (its {@link SendResult} all 0;
     * counted nowhere). {@link #announceUser} tells when they can.
     */
    boolean bindUser(Sender sender, String userId);

    /**
     * {@link ConnectionRegistry#bindUserExclusively} on the local registry (this node's other
     * connections of the user are unbound; other nodes' are not: they are theirs to end), then
     * announces the user, and withdraws the one the connection leaves, as {@link #bindUser} does.
     */
    Collection<Sender> bindUserExclusively(Sender sender, String userId);

    /** {@link ConnectionRegistry#unbindUser}; withdraws the user at once if this node has no other connection of it. */
    boolean unbindUser(Sender sender);

    /**
     * {@link ConnectionRegistry#joinGroup} on the local registry, then announces the group to the
     * cluster at once, on the presence thread: as for {@link #bindUser}, this returns before the
     * other nodes can find the group here; {@link #announceGroup} tells when they can.
     */
    boolean joinGroup(Sender sender, String group);

    /** {@link ConnectionRegistry#leaveGroup}; withdraws the group at once if it has no other member on this node. */
    boolean leaveGroup(Sender sender, String group);

    /**
     * Announces {@code userId}, which a connection of this node is bound to, to the cluster now
     * (on the presence thread, as {@link #bindUser} does) and returns a future that completes
     * when that announce has been written to Redis: from then on a send from any node finds the
     * user here (until it is unbound here, or this node stops). The caller bounds the wait:
     *
     * <pre>{@code
     * if (cluster.bindUser(me, name)) {                        // in a reader, after a login
     *     try {
     *         cluster.announceUser(name).get(2, TimeUnit.SECONDS); // or .orTimeout(...) and a callback
     *         me.put(line("online"));                          // every node can message you now
     *     } catch (ExecutionException | TimeoutException e) {  // Redis down or slow: not known yet
     *         me.put(line("online here; others may not reach you yet"));
     *     }
     * }
     * }</pre>
     *
     * <p>It never hangs: it completes exceptionally, with a {@link BusException}, at once when
     * the bus is not connected, this object is closed, the last presence call failed and its
     * back-off still holds, or 4,096 callers wait already (a Redis slower than the logins);
     * later when the announce fails, or the bus is lost or this object closed meanwhile. A
     * Redis that does not answer so fails it within about two {@link
     * ClusterConfig#commandTimeout()}s ({@link RedisBus}: the presence call under way when it
     * was asked, then the first of its own). It completes with an {@link IllegalStateException}
     * when no connection of this node is bound to {@code userId} when asked, or when its
     * announce is due (unbound meanwhile: withdrawn instead). A failed announce is still made
     * again in the background, as any (see Presence); only the waiting ends.
     *
     * <p>The future completes on a virtual thread of its own ({@code stcp-cluster-NODE-announce}),
     * which runs nothing but the completion and the dependent actions added before it: those never
     * run on the cluster's presence, bus or delivery threads, and one that blocks holds up no other
     * caller's future. Each call costs an announce of the name to Redis, made with the other names
     * changed meanwhile (one call per 256 names). Its {@code get} throws
     * {@link java.util.concurrent.ExecutionException} with the cause above.
     *
     * @throws IllegalArgumentException {@code userId} as for {@link #bindUser}
     */
    CompletableFuture<Void> announceUser(String userId);

    /**
     * {@link #announceUser} for {@code group}, which a connection of this node is a member of: a
     * future that completes when the announce of the group has been written to Redis (a send to
     * the group from any node then reaches its members here), or fails as that one does.
     *
     * @throws IllegalArgumentException {@code group} as for {@link #joinGroup}
     */
    CompletableFuture<Void> announceGroup(String group);

    /**
     * Leaves the cluster: see the class comment, Lifecycle. Waits for the presence call under way
     * (at most {@link ClusterConfig#closeTimeout()}), withdraws this node's names for at most
     * {@link ClusterConfig#presenceTtl()} (plus the call under way then), then closes the bus: with
     * {@link RedisBus}, at most {@code presenceTtl + 2 × commandTimeout} in all. The messages
     * received from other nodes and not yet delivered are dropped and counted ({@link
     * ClusterStats#discarded()}). Idempotent; never throws.
     */
    @Override
    void close();
}
