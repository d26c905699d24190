package io.stcp.cluster.internal;

import io.stcp.ConnectionRegistry;
import io.stcp.Durations;
import io.stcp.SendResult;
import io.stcp.Sender;
import io.stcp.cluster.BusException;
import io.stcp.cluster.ClusterBus;
import io.stcp.cluster.ClusterConfig;
import io.stcp.cluster.ClusterFanout;
import io.stcp.cluster.ClusterStats;
import io.stcp.cluster.ClusterUnavailableException;
import io.stcp.cluster.Presence;
import io.stcp.cluster.Presence.Scope;
import io.stcp.cluster.internal.Envelope.Kind;
import io.stcp.cluster.internal.Envelope.KeyType;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;
import java.util.HashSet;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link ClusterFanout} implementation.
 *
 * <p><b>Threads.</b> Callers' threads do the local send, the presence lookup and the publish. The
 * bus's thread only queues what it receives, and two virtual threads of this class do the rest:
 * {@code -deliver} delivers what other nodes send ({@link Delivery}), {@code -presence} announces
 * and withdraws this node's names ({@link PresenceSync}: its state, steps, failures and bounds).
 * Neither holds a lock while calling the bus or the registry.
 *
 * <p><b>Closing.</b> {@link #close} marks this object closed ({@link PresenceSync#close}: every
 * thread of it looks there), then ends the presence thread, withdraws this node's names if the bus
 * is up, closes the bus, ends the delivery thread and drops what it had not delivered (counted in
 * {@link ClusterStats#discarded()}), in that order; last, it releases the registry, which {@link
 * #start} claimed before anything else ({@link RegistryClaims}: one fanout per registry).
 *
 * <p><b>Rebinding.</b> A user bind or unbind must mark the user it replaces, which only the
 * registry knows at the moment of the change; so this object's binds and unbinds of one connection
 * hold that connection's stripe ({@link #bindStripes}, by connection id) from reading its user to
 * changing it. Two callers rebinding one connection at once then each mark the user they actually
 * took it from (unlocked, one could read a user the other had already replaced, and the name the
 * other bound would stay announced with no connection until the next full refresh). The stripe is
 * held only around the registry's calls, which run no user code and do not wait. An exclusive bind
 * also unbinds other connections, without their stripes: each leaves the very user it binds, which
 * stays bound here, so no mark is missed; a rebind of one of them that reads that user just before
 * marks it needlessly, which costs one look.
 */
public final class RealClusterFanout implements ClusterFanout {
    private static final Logger log = LoggerFactory.getLogger(RealClusterFanout.class);
    private static final int MAX_NAME_CHARS_FAST = Envelope.MAX_NAME / 3; // up to 3 UTF-8 bytes per char

    private final ClusterConfig config;
    private final String nodeId;
    /** This object's random token, which claims the node id in the presence: see {@link PresenceSync}, Node id. */
    private final String instance = UUID.randomUUID().toString();
    private final ConnectionRegistry registry;
    private final ClusterBus bus;
    private final Presence presence;
    private final Delivery delivery;
    final PresenceSync presenceSync; // not private: its test hook (beforeMarkAgain)

    private final LongAdder published = new LongAdder();
    private final LongAdder nodeGone = new LongAdder();
    private final LongAdder unavailable = new LongAdder();
    private final LongAdder outcomeUnknown = new LongAdder();
    private final LogLimiter unavailableLog = new LogLimiter(TimeUnit.SECONDS.toNanos(1));

    /** The most names bound or left that wait for the presence thread before a full refresh replaces them ({@link PresenceSync}, Bounds). */
    public static final int MAX_PENDING = 4096;
    /** The most chars those names have in all (names may be long: up to 65,535 UTF-8 bytes each). */
    public static final long MAX_PENDING_CHARS = 1 << 20;
    /** The names a full refresh brings in line per step, before it looks at the names changed meanwhile. */
    public static final int REFRESH_CHUNK = 1024;
    /**
     * The names per presence call: {@code RedisBus}'s batch, so that each is one call to Redis. The
     * presence thread looks for close() between two, and close's withdrawals at their deadline.
     */
    public static final int CALL_BATCH = 256;

    private static final int BIND_STRIPES = 64;
    private final ReentrantLock[] bindStripes = new ReentrantLock[BIND_STRIPES];

    private @Nullable Thread deliverThread;
    private @Nullable Thread presenceThread;

    private RealClusterFanout(ClusterConfig config, ConnectionRegistry registry, ClusterBus bus, Presence presence) {
        this.config = config;
        this.nodeId = config.nodeId();
        this.registry = registry;
        this.bus = bus;
        this.presence = presence;
        this.presenceSync = new PresenceSync(config, instance, registry, bus, presence);
        this.delivery = new Delivery(config, registry, presenceSync::isClosed);
        for (int i = 0; i < BIND_STRIPES; i++) {
            bindStripes[i] = new ReentrantLock();
        }
    }

    /** Starts the threads and subscribes; see {@link ClusterFanout#start(ClusterConfig, ConnectionRegistry, ClusterBus, Presence)}. */
    public static RealClusterFanout start(ClusterConfig config, ConnectionRegistry registry, ClusterBus bus, Presence presence) {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(registry, "registry");
        Objects.requireNonNull(bus, "bus");
        Objects.requireNonNull(presence, "presence");
        RealClusterFanout f = new RealClusterFanout(config, registry, bus, presence);
        RegistryClaims.claim(registry, f); // before anything starts: refused, it changes nothing (the bus not even subscribed)
        try {
            f.deliverThread = ClusterThreads.start("stcp-cluster-" + f.nodeId + "-deliver", f.delivery::loop);
            f.presenceThread = ClusterThreads.start("stcp-cluster-" + f.nodeId + "-presence", f.presenceSync::loop);
            bus.subscribe(f.nodeId, f.new BusListener());
        } catch (Throwable e) { // an Error too (the application's bus): the threads started above end with it, the claim is released
            f.close();
            throw e;
        }
        try {
            log.atInfo().setMessage("cluster.start").addKeyValue("node", f.nodeId).addKeyValue("instance", f.instance)
                    .addKeyValue("config", config).log();
        } catch (Throwable e) {
            // out of memory even for the line: started all the same (thrown, it would leave a node no one can close)
        }
        return f;
    }

    // ---------------------------------------------------------------- accessors

    @Override
    public String nodeId() {
        return nodeId;
    }

    @Override
    public ConnectionRegistry local() {
        return registry;
    }

    @Override
    public boolean isConnected() {
        return !presenceSync.isClosed() && bus.isConnected();
    }

    @Override
    public ClusterStats stats() {
        return new ClusterStats(isConnected(), published.sum(), nodeGone.sum(), unavailable.sum(), outcomeUnknown.sum(),
                delivery.received.sum(), delivery.delivered.sum(), delivery.refused.sum(), delivery.unroutable.sum(),
                delivery.malformed.sum(), delivery.overflow.sum(), delivery.discarded.sum(), presenceSync.reconnects.sum(), presenceSync.presenceFailures.sum(),
                presenceSync.duplicateNode.sum());
    }

    // ---------------------------------------------------------------- bindings

    @Override
    public boolean bindUser(Sender sender, String userId) {
        checkName("userId", userId);
        Rebound<Boolean> r = rebind(sender, s -> registry.bindUser(s, userId));
        if (r.result()) {
            changedUser(userId, r.old());
        }
        return r.result();
    }

    @Override
    public Collection<Sender> bindUserExclusively(Sender sender, String userId) {
        checkName("userId", userId);
        Rebound<Collection<Sender>> r = rebind(sender, s -> registry.bindUserExclusively(s, userId));
        // The connections unbound leave userId, which this one keeps here: no change of presence for
        // them. Marked even if the bind was refused (the connection gone): the presence thread
        // decides by what the registry holds, and a refusal is rare.
        changedUser(userId, r.old());
        return r.result();
    }

    @Override
    public boolean unbindUser(Sender sender) {
        Rebound<Boolean> r = rebind(sender, registry::unbindUser);
        if (r.result() && r.old() != null) {
            presenceSync.changed(Scope.USER, r.old());
        }
        return r.result();
    }

    /** What a change of a connection's user returned, and the user it had before the change. */
    private record Rebound<T>(@Nullable String old, T result) {}

    /** Changes {@code sender}'s user by {@code change}, reading the one before under its stripe: see the class comment, Rebinding. */
    private <T> Rebound<T> rebind(Sender sender, Function<Sender, T> change) {
        ReentrantLock stripe = bindStripe(sender);
        try {
            String old = registry.userOf(sender);
            return new Rebound<>(old, change.apply(sender));
        } finally {
            stripe.unlock();
        }
    }

    /** Marks {@code userId}, bound now, and {@code old}, the user the connection left, if another. */
    private void changedUser(String userId, @Nullable String old) {
        presenceSync.changed(Scope.USER, userId);
        if (old != null && !old.equals(userId)) {
            presenceSync.changed(Scope.USER, old);
        }
    }

    /** Locks and returns the stripe of {@code sender}'s connection: see the class comment, Rebinding. */
    private ReentrantLock bindStripe(Sender sender) {
        long id = Objects.requireNonNull(sender, "sender").connection().id();
        ReentrantLock stripe = bindStripes[Long.hashCode(id) & (BIND_STRIPES - 1)];
        stripe.lock();
        return stripe;
    }

    @Override
    public boolean joinGroup(Sender sender, String group) {
        checkName("group", group);
        boolean joined = registry.joinGroup(sender, group);
        if (joined) {
            presenceSync.changed(Scope.GROUP, group);
        }
        return joined;
    }

    @Override
    public boolean leaveGroup(Sender sender, String group) {
        boolean left = registry.leaveGroup(sender, group);
        if (left) {
            presenceSync.changed(Scope.GROUP, group);
        }
        return left;
    }

    @Override
    public CompletableFuture<Void> announceUser(String userId) {
        checkName("userId", userId);
        return presenceSync.announce(Scope.USER, userId);
    }

    @Override
    public CompletableFuture<Void> announceGroup(String group) {
        checkName("group", group);
        return presenceSync.announce(Scope.GROUP, group);
    }

    /** How many names wait for the presence thread now (at most {@link #MAX_PENDING}); for tests. */
    public int pendingChanges() {
        return presenceSync.pendingChanges();
    }

    // ---------------------------------------------------------------- sends

    @Override
    public SendResult sendToUser(String userId, byte[] bytes) {
        check("userId", userId, null, bytes);
        return remote(Kind.USER, userId, KeyType.NONE, 0, null, bytes, registry.sendToUser(userId, bytes));
    }

    @Override
    public SendResult sendToUser(String userId, int key, byte[] bytes) {
        check("userId", userId, null, bytes);
        return remote(Kind.USER, userId, KeyType.INT, key, null, bytes, registry.sendToUser(userId, key, bytes));
    }

    @Override
    public SendResult sendToUser(String userId, String key, byte[] bytes) {
        check("userId", userId, key, bytes);
        return remote(Kind.USER, userId, KeyType.STRING, 0, key, bytes, registry.sendToUser(userId, key, bytes));
    }

    @Override
    public SendResult sendToGroup(String group, byte[] bytes) {
        check("group", group, null, bytes);
        return remote(Kind.GROUP, group, KeyType.NONE, 0, null, bytes, registry.sendToGroup(group, bytes));
    }

    @Override
    public SendResult sendToGroup(String group, int key, byte[] bytes) {
        check("group", group, null, bytes);
        return remote(Kind.GROUP, group, KeyType.INT, key, null, bytes, registry.sendToGroup(group, key, bytes));
    }

    @Override
    public SendResult sendToGroup(String group, String key, byte[] bytes) {
        check("group", group, key, bytes);
        return remote(Kind.GROUP, group, KeyType.STRING, 0, key, bytes, registry.sendToGroup(group, key, bytes));
    }

    @Override
    public SendResult broadcast(byte[] bytes) {
        check(null, "", null, bytes);
        return remote(Kind.ALL, "", KeyType.NONE, 0, null, bytes, registry.broadcast(bytes));
    }

    @Override
    public SendResult broadcast(int key, byte[] bytes) {
        check(null, "", null, bytes);
        return remote(Kind.ALL, "", KeyType.INT, key, null, bytes, registry.broadcast(key, bytes));
    }

    @Override
    public SendResult broadcast(String key, byte[] bytes) {
        check(null, "", key, bytes);
        return remote(Kind.ALL, "", KeyType.STRING, 0, key, bytes, registry.broadcast(key, bytes));
    }

    private void check(@Nullable String field, String name, @Nullable String key, byte[] bytes) {
        Objects.requireNonNull(bytes, "bytes");
        if (field != null) {
            checkName(field, name);
        }
        if (key != null) {
            checkName("key", key);
        }
        if (bytes.length > config.maxMessageBytes()) {
            throw new IllegalArgumentException("bytes: " + bytes.length + " bytes (expected: <= maxMessageBytes "
                    + config.maxMessageBytes() + ")");
        }
    }

    private static void checkName(String field, String name) {
        Objects.requireNonNull(name, field);
        if (name.length() > MAX_NAME_CHARS_FAST) {
            int n = name.getBytes(StandardCharsets.UTF_8).length;
            if (n > Envelope.MAX_NAME) {
                throw new IllegalArgumentException(field + ": " + n + " UTF-8 bytes (expected: <= " + Envelope.MAX_NAME + ")");
            }
        }
        int lone = loneSurrogate(name);
        if (lone >= 0) {
            throw new IllegalArgumentException(field + ": a lone surrogate at index " + lone
                    + " (expected: a string UTF-8 can carry; the encoder would make it '?', another name)");
        }
    }

    /**
     * The index of the first surrogate of {@code s} that is not half of a pair, or -1. UTF-8 cannot
     * carry one: {@code getBytes} writes it as {@code '?'}, so the presence key and the envelope
     * would name another user, group or key ({@code "\\uD800lice"} would be {@code "?lice"}).
     */
    private static int loneSurrogate(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return i;
            }
        }
        return -1;
    }

    private SendResult remote(Kind kind, String target, KeyType keyType, int intKey, @Nullable String stringKey,
            byte[] bytes, SendResult local) {
        if (!isConnected()) {
            unavailable.increment();
            throw unavailable(presenceSync.isClosed() ? "cluster: closed; sent on this node only"
                    : "cluster: bus not connected; sent on this node only", local);
        }
        try {
            if (kind == Kind.ALL) {
                byte[] envelope = new Envelope(kind, nodeId, target, keyType, intKey, stringKey, bytes).encode();
                int reached = bus.publishAll(envelope);
                published.increment();
                return local.plus(new SendResult(0, 0, 0, 0, Math.max(0, reached - 1))); // minus this node's own subscription
            }
            Set<String> nodes = new HashSet<>(presence.nodes(kind == Kind.USER ? Scope.USER : Scope.GROUP, target));
            nodes.remove(nodeId);
            if (nodes.isEmpty()) {
                return local;
            }
            byte[] envelope = new Envelope(kind, nodeId, target, keyType, intKey, stringKey, bytes).encode();
            int reached = bus.publish(nodes, envelope);
            published.add(nodes.size());
            nodeGone.add(nodes.size() - reached);
            return local.plus(new SendResult(0, 0, 0, 0, reached));
        } catch (BusException e) {
            if (e.outcomeUnknown()) { // not retried: the other nodes may have it already, and would get it twice
                outcomeUnknown.increment();
                throw unavailable("cluster: " + e.getMessage() + "; sent on this node, outcome on the others unknown (not sent again)", local, true);
            }
            unavailable.increment();
            throw unavailable("cluster: " + e.getMessage() + "; sent on this node only", local, false);
        }
    }

    private ClusterUnavailableException unavailable(String message, SendResult local) {
        return unavailable(message, local, false);
    }

    private ClusterUnavailableException unavailable(String message, SendResult local, boolean unknown) {
        long held = unavailableLog.tryAcquire();
        if (held >= 0) {
            LogLimiter.suppressed(log.atWarn().setMessage("cluster.send.unavailable").addKeyValue("node", nodeId).addKeyValue("error", message)
                    .addKeyValue("outcomeUnknown", unknown), held).log();
        }
        return new ClusterUnavailableException(message, local, unknown);
    }

    // ---------------------------------------------------------------- receiving

    private final class BusListener implements ClusterBus.Listener {
        @Override
        public void onMessage(byte[] message) {
            delivery.offer(message);
        }

        @Override
        public void onTooLong(long length, long limit) {
            delivery.tooLong(length, limit);
        }

        @Override
        public void onConnected() {
            presenceSync.connected();
        }

        @Override
        public void onDisconnected(String reason) {
            presenceSync.disconnected(reason);
        }
    }

    // ---------------------------------------------------------------- close

    /**
     * Every step is done whatever one before it threw: the application's bus and presence may
     * throw anything ({@code isConnected}, a withdraw, {@code close}), and any line may fail to be
     * made (out of memory, an Error from an appender). A failure is logged ({@link #closeFailed})
     * and the close goes on: the bus closed, both threads ended, {@code cluster.stop}. It used to
     * escape close() at the first such failure, leaving the steps after it undone. The registry
     * is released last ({@link RegistryClaims}), whatever happened before: another fanout may
     * then serve it.
     */
    @Override
    public void close() {
        if (!presenceSync.close()) {
            return;
        }
        try {
            closeSteps();
        } finally {
            RegistryClaims.release(registry, this); // last: a fanout started on the registry now finds this one's names withdrawn, not withdrawing
        }
    }

    private void closeSteps() {
        join(presenceThread);
        boolean connected;
        try {
            connected = bus.isConnected();
        } catch (Throwable e) { // the application's bus: taken as down, and closed all the same
            connected = false;
            closeFailed("cluster.close.bus", e);
        }
        if (connected) { // best effort: the others would see this node's entries for one TTL at most
            presenceSync.withdrawAll();
        }
        try {
            bus.close();
        } catch (Throwable e) { // an application's bus, say: the rest of the close is done all the same
            closeFailed("cluster.close.bus", e);
        }
        Thread d = deliverThread;
        if (d != null) {
            d.interrupt();
            join(d);
        }
        int discarded = delivery.discard();
        try {
            log.atInfo().setMessage("cluster.stop").addKeyValue("node", nodeId).addKeyValue("discarded", discarded)
                    .addKeyValue("stats", stats()).log();
        } catch (Throwable e) {
            // out of memory even for the line: closed all the same, and close() never throws
        }
    }

    /**
     * Logs {@code event} (WARN, the exception) for a step of close() that threw; whatever the line
     * itself throws (out of memory making it, an Error from an appender) is dropped, so that close()
     * goes on to its end.
     */
    private void closeFailed(String event, Throwable e) {
        try {
            log.atWarn().setMessage(event).addKeyValue("node", nodeId).setCause(e).log();
        } catch (Throwable logFailed) {
            // out of memory even for the line: the close goes on all the same
        }
    }

    /**
     * Waits for {@code t} to end, for at most {@link ClusterConfig#closeTimeout()}; one still running
     * then is left to end by itself and logged ({@code cluster.close.timeout}, WARN, with its name),
     * guarded as {@link #closeFailed} is: close() goes on.
     */
    private void join(@Nullable Thread t) {
        if (t == null) {
            return;
        }
        try {
            if (!t.join(config.closeTimeout())) {
                try {
                    log.atWarn().setMessage("cluster.close.timeout").addKeyValue("node", nodeId).addKeyValue("thread", t.getName())
                            .addKeyValue("closeTimeout", Durations.format(config.closeTimeout())).log();
                } catch (Throwable logFailed) {
                    // out of memory even for the line: the close goes on all the same
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
