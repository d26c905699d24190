package io.stcp.cluster.internal;

import io.stcp.ConnectionRegistry;
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
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link ClusterFanout} implementation.
 *
 * <p><b>Threads.</b> Callers' threads do the local send, the presence lookup and the publish. The
 * bus's thread only queues what it receives ({@link #inbound}, bounded), and drops this node's own
 * broadcasts as they come back (their local part is done; they must take no room from the other
 * nodes' messages) and, counted as malformed, anything longer than the longest valid envelope
 * ({@link Envelope#maxLength}: Redis hands over up to 32 MiB, which would take the queue's bytes
 * until the delivery thread got to it). Two virtual threads of this class: {@code -deliver} takes
 * from the queue, decodes and delivers through the registry; {@code -presence} announces and
 * withdraws this node's names. Neither holds a lock while calling
 * the bus or the registry.
 *
 * <p><b>Presence state</b> (guarded by {@link #lock}): {@link #fullRefreshDue} — announce every
 * name and withdraw the stale ones (set at start, on every (re)connect and disconnect, and every
 * refresh interval); {@link #changedUsers}/{@link #changedGroups} — names bound or left through this
 * object, whose presence the thread brings in line with the registry now. The presence thread takes
 * them under the lock and works outside it, and decides each name by what the registry holds
 * <em>when it looks</em>, not by what the caller saw: two callers binding and leaving one name at
 * once cannot leave it withdrawn while it has a connection here, since whichever change the thread
 * has not seen yet puts the name back in the set.
 *
 * <p><b>Steps.</b> The thread works in steps: the names changed, then, while a full refresh is
 * under way ({@link Refresh}), its next {@link #REFRESH_CHUNK} names. So however many names the
 * node has (Redis announces some 100,000 a second: a million take seconds), no bus call
 * carries more than a chunk, a login waits for one chunk at most, and the changed names are taken
 * every chunk, not left to pile up behind the whole refresh. A refresh due while one is under way
 * (the interval passed, the caps below) begins when that one ends, so refreshes cannot keep
 * replacing one another and leave the names late in the registry never announced; a connect
 * drops the one under way (Redis may have lost everything) and begins anew. A refresh begins a
 * refresh interval after the last one began, or when it ended if that is later; so a name is
 * announced again within {@code max(presenceRefresh, T1) + T2} of the last time, T1 and T2 the
 * times two refreshes in a row take (back-offs included). Refreshes within half of {@code
 * presenceTtl - presenceRefresh} therefore keep every entry alive; one that takes longer logs
 * {@code cluster.presence.slow} (WARN): at twice that, entries would expire before they are
 * announced again, and the node's users would drop out of lookups.
 *
 * <p><b>Failures.</b> A failed step (counted in {@link ClusterStats#presenceFailures()}; whatever
 * it threw, an {@link Error} or a checked exception from the {@link Presence} or the bus too, which
 * does not end the thread) puts its changed names back in the sets (should that fail too, out of
 * memory as the sets grow, a full refresh is made due instead: it covers them) and keeps the
 * refresh's chunk, and sets {@link #retryHeld}: the
 * thread does the step again after a back-off ({@link Backoff}: {@code reconnectDelay} doubling to
 * {@code reconnectMaxDelay}, from the first again after a step that works), or at once when the bus
 * connects again ({@code onConnected} clears the hold; a step that fails after a connect that came
 * while it was under way sets none, by {@link #connects}). A refresh goes on from the chunk that
 * failed, not from its start: a Redis that fails one call in a hundred cannot keep a large node's
 * last names from ever being announced. A Redis that keeps refusing (out of memory, a read-only
 * replica) is asked ever less often, not every {@code reconnectDelay}.
 *
 * <p><b>Bounds.</b> While a full refresh is due the sets stay empty: that refresh reads every name
 * from the registry when it begins, so a name changed before it needs no mark. The bus going down
 * makes one due (and empties the sets): names bound and left while Redis is away — or was never
 * reached — cost nothing here, however many there are. While the bus is up the sets hold at most
 * {@link #MAX_PENDING} names of {@link #MAX_PENDING_CHARS} chars in all; one more makes a full
 * refresh due instead. Taken every step, they reach that only when that many names change during
 * one step: a Redis that answers slowly, or a burst faster than Redis takes them.
 *
 * <p><b>Rebinding.</b> A user bind or unbind must mark the user it replaces, which only the
 * registry knows at the moment of the change; so this object's binds and unbinds of one connection
 * hold that connection's stripe ({@link #bindStripes}, by connection id) from reading its user to
 * changing it. Two callers rebinding one connection at once then each mark the user they actually
 * took it from (unlocked, one could read a user the other had already replaced, and the name the
 * other bound would stay announced with no connection until the next full refresh). The stripe is
 * held only around the registry's calls, which run no user code and do not wait.
 */
public final class RealClusterFanout implements ClusterFanout {
    private static final Logger log = LoggerFactory.getLogger(RealClusterFanout.class);
    private static final int MAX_NAME_CHARS_FAST = Envelope.MAX_NAME / 3; // up to 3 UTF-8 bytes per char

    private final ClusterConfig config;
    private final String nodeId;
    private final byte[] nodeIdBytes; // UTF-8
    private final ConnectionRegistry registry;
    private final ClusterBus bus;
    private final Presence presence;
    private final ArrayBlockingQueue<byte[]> inbound;
    private final java.util.concurrent.atomic.AtomicLong inboundBytes = new java.util.concurrent.atomic.AtomicLong(); // queued in inbound
    private final long maxEnvelope; // the longest valid envelope: longer ones are refused before the queue

    private final LongAdder published = new LongAdder();
    private final LongAdder nodeGone = new LongAdder();
    private final LongAdder unavailable = new LongAdder();
    private final LongAdder outcomeUnknown = new LongAdder();
    private final LongAdder received = new LongAdder();
    private final LongAdder delivered = new LongAdder();
    private final LongAdder refused = new LongAdder();
    private final LongAdder unroutable = new LongAdder();
    private final LongAdder malformed = new LongAdder();
    private final LongAdder overflow = new LongAdder();
    private final LongAdder reconnects = new LongAdder();
    private final LongAdder presenceFailures = new LongAdder();

    private final LogLimiter unavailableLog = new LogLimiter(TimeUnit.SECONDS.toNanos(1));
    private final LogLimiter malformedLog = new LogLimiter(TimeUnit.SECONDS.toNanos(1));
    private final LogLimiter overflowLog = new LogLimiter(TimeUnit.SECONDS.toNanos(1));
    private final LogLimiter deliverLog = new LogLimiter(TimeUnit.SECONDS.toNanos(1));
    private final LogLimiter presenceLog = new LogLimiter(TimeUnit.SECONDS.toNanos(5));

    /** The most names {@link #changedUsers} and {@link #changedGroups} hold together before a full refresh replaces them. */
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

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private boolean fullRefreshDue = true;                     // guarded by lock
    private Set<String> changedUsers = new HashSet<>();         // guarded by lock
    private Set<String> changedGroups = new HashSet<>();        // guarded by lock
    private long changedChars;                                  // guarded by lock: of the names in both sets
    private boolean everConnected;                              // guarded by lock
    private boolean retryHeld;                                  // guarded by lock: a round failed; the next waits out its back-off
    private long connects;                                      // guarded by lock: how often the bus has connected
    private volatile boolean closed;

    // Owned by the presence thread: the names this node has announced and not withdrawn.
    private final Set<String> announcedUsers = ConcurrentHashMap.newKeySet();
    private final Set<String> announcedGroups = ConcurrentHashMap.newKeySet();

    private @Nullable Thread deliverThread;
    private @Nullable Thread presenceThread;
    /** For tests: runs on the presence thread, under {@link #lock}, before the names of a step that failed are marked again. */
    volatile @Nullable Runnable beforeMarkAgain;

    private RealClusterFanout(ClusterConfig config, ConnectionRegistry registry, ClusterBus bus, Presence presence) {
        this.config = config;
        this.nodeId = config.nodeId();
        this.nodeIdBytes = nodeId.getBytes(StandardCharsets.UTF_8);
        this.registry = registry;
        this.bus = bus;
        this.presence = presence;
        this.inbound = new ArrayBlockingQueue<>(config.inboundQueue());
        this.maxEnvelope = Envelope.maxLength(config.maxMessageBytes());
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
        f.deliverThread = ClusterThreads.start("stcp-cluster-" + f.nodeId + "-deliver", f::deliverLoop);
        f.presenceThread = ClusterThreads.start("stcp-cluster-" + f.nodeId + "-presence", f::presenceLoop);
        try {
            bus.subscribe(f.nodeId, f.new BusListener());
        } catch (Throwable e) { // an Error too (the application's bus): the threads started above end with it
            f.close();
            throw e;
        }
        try {
            log.atInfo().setMessage("cluster.start").addKeyValue("node", f.nodeId).addKeyValue("config", config).log();
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
        return !closed && bus.isConnected();
    }

    @Override
    public ClusterStats stats() {
        return new ClusterStats(isConnected(), published.sum(), nodeGone.sum(), unavailable.sum(), outcomeUnknown.sum(),
                received.sum(), delivered.sum(), refused.sum(), unroutable.sum(), malformed.sum(), overflow.sum(),
                reconnects.sum(), presenceFailures.sum());
    }

    // ---------------------------------------------------------------- bindings

    @Override
    public boolean bindUser(Sender sender, String userId) {
        checkName("userId", userId);
        String old;
        boolean bound;
        ReentrantLock stripe = bindStripe(sender);
        try {
            old = registry.userOf(sender);
            bound = registry.bindUser(sender, userId);
        } finally {
            stripe.unlock();
        }
        if (bound) {
            changed(Scope.USER, userId);
            if (old != null && !old.equals(userId)) {
                changed(Scope.USER, old);
            }
        }
        return bound;
    }

    @Override
    public boolean unbindUser(Sender sender) {
        String old;
        boolean unbound;
        ReentrantLock stripe = bindStripe(sender);
        try {
            old = registry.userOf(sender);
            unbound = registry.unbindUser(sender);
        } finally {
            stripe.unlock();
        }
        if (unbound && old != null) {
            changed(Scope.USER, old);
        }
        return unbound;
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
            changed(Scope.GROUP, group);
        }
        return joined;
    }

    @Override
    public boolean leaveGroup(Sender sender, String group) {
        boolean left = registry.leaveGroup(sender, group);
        if (left) {
            changed(Scope.GROUP, group);
        }
        return left;
    }

    /**
     * {@code name}'s bindings here have changed: the presence thread announces or withdraws it, as
     * the registry has it then; nothing to mark while a full refresh is due (see the class comment, Bounds).
     */
    private void changed(Scope scope, String name) {
        lock.lock();
        try {
            mark(scope, name);
            work.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Marks {@code name} changed unless a full refresh is due; past the caps, makes one due instead. The caller holds {@link #lock}. */
    private void mark(Scope scope, String name) {
        if (!fullRefreshDue && (scope == Scope.USER ? changedUsers : changedGroups).add(name)) {
            changedChars += name.length();
            if (changedUsers.size() + changedGroups.size() > MAX_PENDING || changedChars > MAX_PENDING_CHARS) {
                refreshAllInstead();
            }
        }
    }

    /** Makes a full refresh due and drops the names it covers; the caller holds {@link #lock}. */
    private void refreshAllInstead() {
        fullRefreshDue = true;
        changedUsers = new HashSet<>(); // new sets: clear() would keep a large table
        changedGroups = new HashSet<>();
        changedChars = 0;
    }

    /** How many names wait for the presence thread now (at most {@link #MAX_PENDING}); for tests. */
    public int pendingChanges() {
        lock.lock();
        try {
            return changedUsers.size() + changedGroups.size();
        } finally {
            lock.unlock();
        }
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
    }

    private SendResult remote(Kind kind, String target, KeyType keyType, int intKey, @Nullable String stringKey,
            byte[] bytes, SendResult local) {
        if (!isConnected()) {
            unavailable.increment();
            throw unavailable(closed ? "cluster: closed; sent on this node only"
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
            log.atWarn().setMessage("cluster.send.unavailable").addKeyValue("node", nodeId).addKeyValue("reason", message)
                    .addKeyValue("outcomeUnknown", unknown).addKeyValue("heldBack", held).log();
        }
        return new ClusterUnavailableException(message, local, unknown);
    }

    // ---------------------------------------------------------------- receiving

    private final class BusListener implements ClusterBus.Listener {
        @Override
        public void onMessage(byte[] message) {
            if (Envelope.isBroadcastFrom(message, nodeIdBytes)) {
                return; // this node's own broadcast, back from the bus: its local part is done, and it must take no room
            }
            if (message.length > maxEnvelope) {
                // No valid envelope is this long (Redis passes up to its pub/sub output limit, 32 MiB
                // by default): refused here, it takes no room from the messages that follow.
                malformed(message, "length " + message.length + " (expected: <= " + maxEnvelope + ")");
                return;
            }
            // Bytes are reserved before the offer and given back on failure or when taken.
            boolean queued = inboundBytes.addAndGet(message.length) <= config.inboundMaxBytes() && inbound.offer(message);
            if (!queued) {
                inboundBytes.addAndGet(-message.length);
                overflow.increment();
                long held = overflowLog.tryAcquire();
                if (held >= 0) {
                    log.atWarn().setMessage("cluster.receive.overflow").addKeyValue("node", nodeId)
                            .addKeyValue("inboundQueue", config.inboundQueue()).addKeyValue("inboundMaxBytes", config.inboundMaxBytes())
                            .addKeyValue("heldBack", held).log();
                }
            }
        }

        @Override
        public void onConnected() {
            lock.lock();
            try {
                if (everConnected) {
                    reconnects.increment();
                }
                everConnected = true;
                connects++;
                fullRefreshDue = true;
                retryHeld = false; // a new connection: presence is announced again at once
                work.signalAll();
            } finally {
                lock.unlock();
            }
        }

        @Override
        public void onDisconnected(String reason) {
            // Sends fail fast from now on (bus.isConnected()); presence is announced again, whole, on reconnect.
            lock.lock();
            try {
                refreshAllInstead();
            } finally {
                lock.unlock();
            }
        }
    }

    private void deliverLoop() {
        while (!closed) {
            byte[] message;
            try {
                message = inbound.take();
            } catch (InterruptedException e) {
                break; // close()
            }
            inboundBytes.addAndGet(-message.length);
            try {
                deliver(message);
            } catch (Throwable e) {
                // A bug, out of memory (a payload of maxMessageBytes on a full heap), or anything from
                // a registry the application wrapped (a checked exception thrown unchecked, as Kotlin
                // does): it costs this message, not the thread: with no delivery thread, every later
                // message would be dropped.
                try {
                    long held = deliverLog.tryAcquire();
                    if (held >= 0) {
                        log.atWarn().setMessage("cluster.deliver.error").addKeyValue("node", nodeId)
                                .addKeyValue("heldBack", held).setCause(e).log();
                    }
                } catch (Throwable logFailed) {
                    // out of memory even for the line: the loop goes on all the same
                }
            }
        }
    }

    /** Decodes and delivers one message from the bus; runs on the deliver thread. */
    void deliver(byte[] message) {
        Envelope e;
        try {
            e = Envelope.decode(message, config.maxMessageBytes());
        } catch (Envelope.Malformed m) {
            malformed(message, m.getMessage());
            return;
        }
        if (e.kind() == Kind.ALL && e.origin().equals(nodeId)) {
            return; // this node's own broadcast: its local part is done
        }
        received.increment();
        SendResult r = switch (e.kind()) {
            case USER -> switch (e.keyType()) {
                case NONE -> registry.sendToUser(e.target(), e.payload());
                case INT -> registry.sendToUser(e.target(), e.intKey(), e.payload());
                case STRING -> registry.sendToUser(e.target(), e.stringKey(), e.payload());
            };
            case GROUP -> switch (e.keyType()) {
                case NONE -> registry.sendToGroup(e.target(), e.payload());
                case INT -> registry.sendToGroup(e.target(), e.intKey(), e.payload());
                case STRING -> registry.sendToGroup(e.target(), e.stringKey(), e.payload());
            };
            case ALL -> switch (e.keyType()) {
                case NONE -> registry.broadcast(e.payload());
                case INT -> registry.broadcast(e.intKey(), e.payload());
                case STRING -> registry.broadcast(e.stringKey(), e.payload());
            };
        };
        delivered.add(r.accepted());
        refused.add(r.refused());
        if (r.recipients() == 0) {
            unroutable.increment();
        }
    }

    /** Counts and logs (rate-limited) a message from the bus that is no valid envelope; any thread. */
    private void malformed(byte[] message, String reason) {
        malformed.increment();
        long held = malformedLog.tryAcquire();
        if (held >= 0) {
            log.atWarn().setMessage("cluster.receive.malformed").addKeyValue("node", nodeId).addKeyValue("reason", reason)
                    .addKeyValue("bytes", message.length).addKeyValue("heldBack", held).log();
        }
    }

    // ---------------------------------------------------------------- presence

    private void presenceLoop() {
        long refreshNanos = config.presenceRefresh().toNanos();
        long nextRefresh = System.nanoTime() + refreshNanos; // when no refresh is under way: the next begins
        Backoff retry = new Backoff(config.reconnectDelay(), config.reconnectMaxDelay());
        long retryAt = 0; // while retryHeld: when the step that failed is repeated
        @Nullable Refresh refresh = null; // the full refresh under way
        while (true) {
            boolean begin = false;
            Set<String> users = Set.of();
            Set<String> groups = Set.of();
            long connectsBefore = 0; // when the step started: a connect since asks for it again at once, failed or not
            Throwable takeFailed = null;
            long takeWaitNanos = 0;
            lock.lock();
            try {
                while (!closed) {
                    long now = System.nanoTime();
                    if (retryHeld && retryAt - now <= 0) {
                        retryHeld = false;
                    }
                    if (refresh != null && refresh.connects != connects) {
                        refresh = null; // Redis may have lost what it did (a restart): onConnected made a new one due
                    }
                    if (refresh == null && nextRefresh - now <= 0) {
                        fullRefreshDue = true;
                        nextRefresh = now + refreshNanos;
                    }
                    if (!retryHeld && bus.isConnected() && (refresh != null || fullRefreshDue || hasPending())) {
                        break;
                    }
                    // Woken by a change, a connect, close(); else at the retry, or the next refresh (polled while one is under way)
                    work.awaitNanos(retryHeld ? retryAt - now : refresh == null ? nextRefresh - now : refreshNanos);
                }
                if (closed) {
                    return;
                }
                Set<String> nextUsers = new HashSet<>(); // before anything changes: out of memory here takes nothing
                Set<String> nextGroups = new HashSet<>();
                if (refresh == null && fullRefreshDue) { // one due while another was under way begins when that one ends
                    begin = true;
                    fullRefreshDue = false;
                    nextRefresh = System.nanoTime() + refreshNanos;
                }
                connectsBefore = connects;
                users = changedUsers;
                groups = changedGroups;
                changedUsers = nextUsers;
                changedGroups = nextGroups;
                changedChars = 0;
            } catch (InterruptedException e) {
                return; // close()
            } catch (Throwable e) {
                // From the bus's isConnected (the application's ClusterBus may throw anything, a checked
                // exception too), or out of memory for the sets: nothing was taken. Tried again after
                // the back-off, as a step.
                takeFailed = e;
                takeWaitNanos = retry.nextNanos();
                retryHeld = true;
                retryAt = System.nanoTime() + takeWaitNanos;
            } finally {
                lock.unlock();
            }
            if (takeFailed != null) {
                failed(takeFailed, takeWaitNanos);
                continue;
            }
            try {
                if (begin) {
                    refresh = new Refresh(connectsBefore); // reads the registry after fullRefreshDue was cleared: see Bounds
                }
                sync(Scope.USER, users); // the names changed first: a login waits for at most one chunk of a refresh
                sync(Scope.GROUP, groups);
                users = Set.of();
                groups = Set.of();
                if (refresh != null && refresh.step()) {
                    refresh.ended();
                    refresh = null;
                }
                retry.reset();
            } catch (Throwable e) {
                // BusException mostly; an Error too (out of memory, a class missing), or anything from
                // a Presence of the application's (a checked exception thrown unchecked, as Kotlin
                // does): were this thread to end, presence would stop for good.
                long waitNanos = retry.nextNanos();
                // Repeated after the back-off, or at once on a reconnect, which clears the hold: one
                // that came while the step was under way (it may have failed on the connection lost
                // then) sets none. The names changed go back to the sets; a refresh's chunk is kept.
                lock.lock();
                try {
                    markAgain(users, groups);
                    if (connects == connectsBefore) {
                        retryHeld = true;
                        retryAt = System.nanoTime() + waitNanos;
                    } else {
                        waitNanos = 0;
                    }
                } finally {
                    lock.unlock();
                }
                failed(e, waitNanos);
            }
        }
    }

    /**
     * Puts the names changed of a step that failed back in the sets, for the next step; the caller
     * holds {@link #lock}. On the presence thread, in the catch that keeps it going: the sets grow
     * here, and should that fail (out of memory, or whatever else {@link #mark} throws), a full
     * refresh is made due instead, as when the sets pass their caps: it covers every name, these
     * too, and making it due allocates nothing. So nothing escapes to end the thread, and no name
     * is lost. It used to escape: the thread ended, with no line of stcp's, and no name was announced again.
     */
    private void markAgain(Set<String> users, Set<String> groups) {
        try {
            Runnable hook = beforeMarkAgain;
            if (hook != null) {
                hook.run();
            }
            for (String n : users) {
                mark(Scope.USER, n);
            }
            for (String n : groups) {
                mark(Scope.GROUP, n);
            }
        } catch (Throwable e) {
            fullRefreshDue = true;
            changedUsers.clear(); // not new sets, as refreshAllInstead makes: clear() allocates nothing
            changedGroups.clear();
            changedChars = 0;
        }
    }

    /**
     * Counts and logs (held back) a presence step that failed, to be done again in {@code waitNanos};
     * on the presence thread, from the catches that keep it going: nothing the line throws (out of
     * memory making it, an Error from an appender) escapes, or it would end the thread it was
     * called to keep, and no name would be announced again.
     */
    private void failed(Throwable e, long waitNanos) {
        if (!closed) {
            try {
                presenceFailures.increment(); // a LongAdder may allocate a cell
                long held = presenceLog.tryAcquire();
                if (held >= 0) {
                    // The bus's failures say what they are; anything else is a bug or worse: its stack trace too
                    log.atWarn().setMessage("cluster.presence.failed").addKeyValue("node", nodeId)
                            .addKeyValue("reason", e instanceof BusException ? e.getMessage() : e.toString())
                            .addKeyValue("retryMs", TimeUnit.NANOSECONDS.toMillis(waitNanos))
                            .addKeyValue("heldBack", held).setCause(e instanceof BusException ? null : e).log();
                }
            } catch (RuntimeException | Error logFailed) {
                // out of memory even for the line: the step is done again all the same
            }
        }
    }

    private boolean hasPending() {
        return !changedUsers.isEmpty() || !changedGroups.isEmpty();
    }

    /** Announces those of {@code names} the registry has a connection for now, and withdraws the others; stops at close(). */
    private void sync(Scope scope, Collection<String> names) {
        if (names.isEmpty()) {
            return;
        }
        Function<String, Collection<Sender>> bound = scope == Scope.USER ? registry::user : registry::group;
        Set<String> announced = scope == Scope.USER ? announcedUsers : announcedGroups;
        List<String> present = new ArrayList<>();
        List<String> absent = new ArrayList<>();
        for (String n : names) {
            (bound.apply(n).isEmpty() ? absent : present).add(n);
        }
        // A call at a time, so that close() waits for one call at most, not for the whole step.
        for (int i = 0; i < present.size() && !closed; i += CALL_BATCH) {
            List<String> batch = present.subList(i, Math.min(present.size(), i + CALL_BATCH));
            presence.announce(nodeId, scope, batch);
            announced.addAll(batch);
        }
        for (int i = 0; i < absent.size() && !closed; i += CALL_BATCH) {
            List<String> batch = absent.subList(i, Math.min(absent.size(), i + CALL_BATCH));
            presence.withdraw(nodeId, scope, batch);
            announced.removeAll(batch);
        }
    }

    /**
     * A full refresh under way (the presence thread's own): every name of the registry when it
     * began, then the names announced then that the registry did not have, brought in line with the
     * registry {@link #REFRESH_CHUNK} names at a time ({@link #sync}: each name as the registry has
     * it when its chunk is done). A chunk that fails is done again, not the refresh.
     */
    private final class Refresh {
        final long connects; // the bus's connects when it began: after another, Redis may have lost what it did
        private final long began = System.nanoTime();
        private final int names;
        private final Iterator<String> users;
        private final Iterator<String> groups;
        private Scope chunkScope = Scope.USER;
        private List<String> chunk = List.of(); // taken and not yet done

        Refresh(long connects) {
            this.connects = connects;
            Set<String> u = Set.copyOf(registry.users());
            Set<String> g = Set.copyOf(registry.groups());
            Set<String> staleUsers = stale(announcedUsers, u);
            Set<String> staleGroups = stale(announcedGroups, g);
            this.names = u.size() + g.size() + staleUsers.size() + staleGroups.size();
            this.users = Stream.concat(u.stream(), staleUsers.stream()).iterator();
            this.groups = Stream.concat(g.stream(), staleGroups.stream()).iterator();
        }

        /** Does the next chunk; true when none is left. */
        boolean step() {
            if (chunk.isEmpty()) {
                chunkScope = users.hasNext() ? Scope.USER : Scope.GROUP;
                Iterator<String> from = chunkScope == Scope.USER ? users : groups;
                List<String> next = new ArrayList<>(REFRESH_CHUNK);
                while (next.size() < REFRESH_CHUNK && from.hasNext()) {
                    next.add(from.next());
                }
                chunk = next;
            }
            sync(chunkScope, chunk);
            chunk = List.of();
            return !users.hasNext() && !groups.hasNext();
        }

        /** Warns when this refresh took more than half of {@code presenceTtl - presenceRefresh}: see the class comment, Steps. */
        void ended() {
            long tookNanos = System.nanoTime() - began;
            long slackNanos = config.presenceTtl().toNanos() - config.presenceRefresh().toNanos();
            if (tookNanos > slackNanos / 2) {
                log.atWarn().setMessage("cluster.presence.slow").addKeyValue("node", nodeId).addKeyValue("names", names)
                        .addKeyValue("tookMs", TimeUnit.NANOSECONDS.toMillis(tookNanos))
                        .addKeyValue("presenceTtlMs", config.presenceTtl().toMillis())
                        .addKeyValue("presenceRefreshMs", config.presenceRefresh().toMillis()).log();
            }
        }
    }

    private static Set<String> stale(Set<String> announced, Set<String> now) {
        Set<String> stale = new HashSet<>();
        for (String n : announced) {
            if (!now.contains(n)) {
                stale.add(n);
            }
        }
        return stale;
    }

    // ---------------------------------------------------------------- close

    /**
     * Every step is done whatever one before it threw: the application's bus and presence may
     * throw anything ({@code isConnected}, a withdraw, {@code close}), and any line may fail to be
     * made (out of memory, an Error from an appender). A failure is logged ({@link #closeFailed})
     * and the close goes on: the bus closed, both threads ended, {@code cluster.stop}. It used to
     * escape close() at the first such failure, leaving the steps after it undone.
     */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            work.signalAll();
        } finally {
            lock.unlock();
        }
        join(presenceThread);
        boolean connected;
        try {
            connected = bus.isConnected();
        } catch (Throwable e) { // the application's bus: taken as down, and closed all the same
            connected = false;
            closeFailed("cluster.close.bus", e);
        }
        if (connected) { // best effort: the others would see this node's entries for one TTL at most
            withdrawAll();
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
        int discarded = inbound.size();
        inbound.clear();
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
     * Withdraws every name this node has announced, {@link #CALL_BATCH} at a time, until one call
     * fails or {@code presenceTtl} has passed: by then every entry of this node has expired by itself
     * (none was announced since the presence thread stopped), so going on would only hold up close.
     * A call under way then is not cut: it ends within its own command timeout. What is left is
     * logged once ({@code cluster.close.withdraw.timeout}, WARN, with the count). Never throws: a
     * failed call, or anything else (out of memory copying the names, a line that fails), ends it
     * with {@code cluster.close.withdraw} (DEBUG: the entries expire), guarded as {@link #closeFailed} is.
     */
    private void withdrawAll() {
        int left = announcedUsers.size() + announcedGroups.size();
        try {
            long endNanos = System.nanoTime() + config.presenceTtl().toNanos();
            List<String> users = List.copyOf(announcedUsers);
            List<String> groups = List.copyOf(announcedGroups);
            left = users.size() + groups.size();
            for (Scope scope : Scope.values()) {
                List<String> names = scope == Scope.USER ? users : groups;
                for (int i = 0; i < names.size(); i += CALL_BATCH) {
                    if (System.nanoTime() - endNanos >= 0) {
                        log.atWarn().setMessage("cluster.close.withdraw.timeout").addKeyValue("node", nodeId)
                                .addKeyValue("left", left).addKeyValue("presenceTtlMs", config.presenceTtl().toMillis()).log();
                        return;
                    }
                    List<String> batch = names.subList(i, Math.min(names.size(), i + CALL_BATCH));
                    presence.withdraw(nodeId, scope, batch);
                    left -= batch.size();
                }
            }
        } catch (Throwable e) { // an Error too (an application's Presence): the bus is closed all the same
            try {
                log.atDebug().setMessage("cluster.close.withdraw").addKeyValue("node", nodeId).addKeyValue("left", left)
                        .addKeyValue("reason", e.getMessage()).log();
            } catch (Throwable logFailed) {
                // out of memory even for the line: the bus is closed all the same
            }
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
                            .addKeyValue("closeTimeoutMs", config.closeTimeout().toMillis()).log();
                } catch (Throwable logFailed) {
                    // out of memory even for the line: the close goes on all the same
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
