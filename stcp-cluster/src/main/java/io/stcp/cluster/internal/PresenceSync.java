package io.stcp.cluster.internal;

import static io.stcp.cluster.internal.RealClusterFanout.CALL_BATCH;
import static io.stcp.cluster.internal.RealClusterFanout.MAX_PENDING;
import static io.stcp.cluster.internal.RealClusterFanout.MAX_PENDING_CHARS;
import static io.stcp.cluster.internal.RealClusterFanout.REFRESH_CHUNK;

import io.stcp.ConnectionRegistry;
import io.stcp.Durations;
import io.stcp.Sender;
import io.stcp.cluster.BusException;
import io.stcp.cluster.ClusterBus;
import io.stcp.cluster.ClusterConfig;
import io.stcp.cluster.ClusterStats;
import io.stcp.cluster.Presence;
import io.stcp.cluster.Presence.Scope;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.spi.LoggingEventBuilder;

/**
 * This node's entries in the {@link Presence}, kept in line with its registry: the names bound and
 * left through the fanout, a full refresh every {@code presenceRefresh}, the fanout's {@code
 * -presence} thread ({@link #loop}) that announces and withdraws them, and the withdrawals at
 * close ({@link #withdrawAll}). The thread holds no lock while calling the bus or the registry.
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
 * under way ({@link Refresh}), its next {@link RealClusterFanout#REFRESH_CHUNK} names. So however many names the
 * node has (Redis announces some 100,000 a second: a million take seconds), no bus call
 * carries more than a chunk, a login waits for one chunk at most, and the changed names are taken
 * every chunk, not left to pile up behind the whole refresh. A refresh due while one is under way
 * (the interval passed, the caps below) begins when that one ends, so refreshes cannot keep
 * replacing one another and leave the names late in the registry never announced; a connect
 * ends the one under way and begins a new one at once (Redis may have lost everything), which
 * takes first the names the one it replaces had not reached, then the others ({@link
 * Refresh#Refresh(long, Refresh)}). Begun anew from its first name, a refresh interrupted by
 * connects more often than it takes to run (a flaky link; a Redis that drops the subscriber again
 * and again, as it does whenever one message passes its pub/sub output limit, which anyone allowed
 * {@code PUBLISH} can send) never reached the names late in it. A refresh begins a
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
 * {@code reconnectMaxDelay}, jittered, from the first again after a step that works), or at once when the bus
 * connects again ({@link #connected} clears the hold; a step that fails after a connect that came
 * while it was under way sets none, by {@link #connects}). A refresh goes on from the chunk that
 * failed, not from its start: a Redis that fails one call in a hundred cannot keep a large node's
 * last names from ever being announced. A Redis that keeps refusing (out of memory, a read-only
 * replica) is asked ever less often, not every {@code reconnectDelay}. An announce that failed
 * may have been done all the same (its reply lost with the connection): its names count as
 * announced from before the call ({@link #announcedUsers}), so the next refresh withdraws those
 * the registry no longer has.
 *
 * <p><b>Bounds.</b> While a full refresh is due the sets stay empty: that refresh reads every name
 * from the registry when it begins, so a name changed before it needs no mark. The bus going down
 * makes one due (and empties the sets): names bound and left while Redis is away — or was never
 * reached — cost nothing here, however many there are. While the bus is up the sets hold at most
 * {@link RealClusterFanout#MAX_PENDING} names of {@link RealClusterFanout#MAX_PENDING_CHARS} chars in all; one more makes a full
 * refresh due instead. Taken every step, they reach that only when that many names change during
 * one step: a Redis that answers slowly, or a burst faster than Redis takes them.
 *
 * <p><b>Node id.</b> Each full refresh begins with a claim of the node id for this fanout's
 * random {@code instance} token ({@link Presence#claim}, one call; one that fails is logged, and
 * the refresh goes on: the next claims again). Two running nodes given one id find each other's
 * token there at every refresh: each counts it ({@link ClusterStats#duplicateNode()}) and logs
 * {@code cluster.node.duplicate} (ERROR, one line per 5 s at most), and goes on as before (what
 * it loses meanwhile is said there); a node restarted at once finds its former instance's token,
 * which is no longer subscribed, and takes the id over unreported.
 *
 * <p><b>Waiters</b> ({@link #announce}: {@link io.stcp.cluster.ClusterFanout#announceUser}). A
 * caller asks for a name to be announced and gets a future: it waits in {@link #waiters} (guarded
 * by {@link #lock}, at most {@link RealClusterFanout#MAX_PENDING}), its name marked changed, until
 * the next step takes every waiter with the sets ({@link #inStep}) and adds their names to the
 * step's own (a full refresh due drops marks, not waiters), so that each is answered by the step
 * that takes it: done once its name's announce call has returned, failed when the registry has no
 * connection for it then, or with whatever failed the step. None waits for a step that cannot
 * come: while the bus is down, or a back-off holds the next step after a failure, a caller is
 * refused at once, and the waiters not yet taken fail when that begins ({@link #disconnected},
 * the catch of a step); close() fails them all, those of a step under way too. So once Redis stops
 * answering, none waits longer than the call under way when it asked and the first of its own
 * step, each bounded by the bus (RedisBus: {@code commandTimeout}); a Redis that answers slowly
 * costs it the calls of those two steps. Nothing of this is on a message's path.
 *
 * <p><b>Closing.</b> {@link #close} sets {@link #closed}, the fanout's closed flag that every
 * thread of it looks at, under {@link #lock}, and wakes the presence thread: it ends at its next
 * look (between two calls of a step at most).
 */
final class PresenceSync {
    private static final Logger log = LoggerFactory.getLogger(RealClusterFanout.class); // the fanout's lines, under its name

    private final ClusterConfig config;
    private final String nodeId;
    private final String instance; // this fanout's random token: see Node id
    private final ConnectionRegistry registry;
    private final ClusterBus bus;
    private final Presence presence;
    /** Completes the callers' announce futures: a virtual thread each (see {@link #announce}). */
    private final Executor completions;

    final LongAdder reconnects = new LongAdder();
    final LongAdder presenceFailures = new LongAdder();
    final LongAdder duplicateNode = new LongAdder();
    private final LogLimiter duplicateLog = new LogLimiter(TimeUnit.SECONDS.toNanos(5));
    private final LogLimiter claimLog = new LogLimiter(TimeUnit.SECONDS.toNanos(5));
    private final LogLimiter presenceLog = new LogLimiter(TimeUnit.SECONDS.toNanos(5));

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private boolean fullRefreshDue = true;                     // guarded by lock
    private Set<String> changedUsers = new HashSet<>();         // guarded by lock
    private Set<String> changedGroups = new HashSet<>();        // guarded by lock
    private long changedChars;                                  // guarded by lock: of the names in both sets
    private boolean everConnected;                              // guarded by lock
    private boolean retryHeld;                                  // guarded by lock: a round failed; the next waits out its back-off
    private long retryAt;                                       // guarded by lock: while retryHeld, when the step that failed is repeated
    private long connects;                                      // guarded by lock: how often the bus has connected
    private volatile boolean closed;                            // written under lock, read without: see Closing
    private final AnnounceWaiters waiters = new AnnounceWaiters(); // guarded by lock: see Waiters
    private AnnounceWaiters.Taken inStep = AnnounceWaiters.Taken.NONE; // guarded by lock: the waiters the last step took

    // Owned by the presence thread: the names this node may have an entry for, the ones a refresh
    // withdraws when the registry no longer has them, and close() too. A name goes in before its
    // announce is sent, not once it returns: an announce that fails may have reached Redis all the
    // same (the connection lost before its reply came), and a name left out stayed there, its entry
    // withdrawn by nobody, until presenceTtl. A name comes out once its withdrawal has returned.
    private final Set<String> announcedUsers = ConcurrentHashMap.newKeySet();
    private final Set<String> announcedGroups = ConcurrentHashMap.newKeySet();

    /** For tests: runs on the presence thread, under {@link #lock}, before the names of a step that failed are marked again. */
    volatile @Nullable Runnable beforeMarkAgain;

    PresenceSync(ClusterConfig config, String instance, ConnectionRegistry registry, ClusterBus bus, Presence presence) {
        this.config = config;
        this.nodeId = config.nodeId();
        this.instance = instance;
        this.registry = registry;
        this.bus = bus;
        this.presence = presence;
        ThreadFactory threads = ClusterThreads.factory("stcp-cluster-" + nodeId + "-announce");
        this.completions = task -> threads.newThread(task).start();
    }

    /** Whether {@link #close} has been called; any thread. */
    boolean isClosed() {
        return closed;
    }

    /**
     * Sets the fanout closed and wakes the presence thread, under {@link #lock}, and fails every
     * waiter; true the first time, false if already closed. The thread then ends; the names stay
     * announced until {@link #withdrawAll}, or until they expire.
     */
    boolean close() {
        AnnounceWaiters.Taken waiting;
        AnnounceWaiters.Taken taken;
        lock.lock();
        try {
            if (closed) {
                return false;
            }
            closed = true;
            work.signalAll();
            waiting = waiters.take();
            taken = inStep;
        } finally {
            lock.unlock();
        }
        fail(waiting, taken, new BusException("cluster: closed")); // an announce under way may yet be done: they have their answer now
        return true;
    }

    /**
     * A future that completes once {@code name} has been announced by a step that took it after
     * this call, or fails: see {@link io.stcp.cluster.ClusterFanout#announceUser} and the class
     * comment, Waiters. Refused at once (failed, and nothing marked) when closed, when the bus is
     * not connected, while a failed step waits out its back-off, when {@link
     * RealClusterFanout#MAX_PENDING} callers wait already, or when the registry has no connection
     * bound to {@code name}; any thread.
     */
    CompletableFuture<Void> announce(Scope scope, String name) {
        CompletableFuture<Void> waiter = new CompletableFuture<>();
        Throwable refused;
        if ((scope == Scope.USER ? registry.user(name) : registry.group(name)).isEmpty()) {
            refused = AnnounceWaiters.notBound(scope, name);
        } else {
            lock.lock();
            try {
                refused = refusal();
                if (refused == null) {
                    waiters.add(scope, name, waiter);
                    mark(scope, name);
                    work.signalAll();
                }
            } catch (Throwable e) { // the application's bus (isConnected), or out of memory: this caller's answer
                refused = e;
            } finally {
                lock.unlock();
            }
        }
        if (refused != null) {
            waiter.completeExceptionally(refused);
        }
        // The caller's stage, completed on a virtual thread of its own: its dependent actions never
        // run on this module's threads (the presence thread decides most waiters, the bus's thread
        // some), which they could hold up, nor on a pool where one that blocks holds up the others
        // (the common pool has one worker on two cores)
        return waiter.whenCompleteAsync((done, failed) -> { }, completions);
    }

    /** Why a waiter cannot be taken now, or null; the caller holds {@link #lock}. */
    private @Nullable BusException refusal() {
        if (closed) {
            return new BusException("cluster: closed");
        }
        if (!bus.isConnected()) {
            return new BusException("cluster: bus not connected");
        }
        long now = System.nanoTime();
        if (retryHeld && retryAt - now > 0) {
            return new BusException("cluster: the last presence call failed; the next in "
                    + Durations.format(Duration.ofNanos(retryAt - now)));
        }
        if (waiters.isFull()) {
            return new BusException("cluster: " + MAX_PENDING + " announces waited for already (Redis is slower than they come)");
        }
        return null;
    }

    /** Fails {@code waiting} and {@code taken} with {@code e}; never throws (close() and the presence thread's catches call it). */
    private static void fail(AnnounceWaiters.Taken waiting, AnnounceWaiters.Taken taken, Throwable e) {
        try {
            waiting.fail(e);
            taken.fail(e);
        } catch (Throwable failed) {
            // out of memory failing them: nothing else to do here, and the thread (or close) must go on
        }
    }

    /**
     * {@code name}'s bindings here have changed: the presence thread announces or withdraws it, as
     * the registry has it then; nothing to mark while a full refresh is due (see the class comment, Bounds).
     */
    void changed(Scope scope, String name) {
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

    /** How many names wait for the presence thread now (at most {@link RealClusterFanout#MAX_PENDING}); for tests. */
    int pendingChanges() {
        lock.lock();
        try {
            return changedUsers.size() + changedGroups.size();
        } finally {
            lock.unlock();
        }
    }

    /** The bus has connected (again): a full refresh, at once; on the bus's thread. */
    void connected() {
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

    /** The bus is down, for {@code reason}; on the bus's thread. */
    void disconnected(String reason) {
        // Sends fail fast from now on (bus.isConnected()); presence is announced again, whole, on reconnect.
        AnnounceWaiters.Taken waiting;
        lock.lock();
        try {
            refreshAllInstead();
            waiting = waiters.take(); // no step takes them before a connect: they fail now (a step under way answers its own)
        } finally {
            lock.unlock();
        }
        fail(waiting, AnnounceWaiters.Taken.NONE, new BusException("cluster: bus disconnected: " + reason));
    }

    /** The presence thread: see the class comment. Ends with {@link #close}. */
    void loop() {
        long refreshNanos = config.presenceRefresh().toNanos();
        long nextRefresh = System.nanoTime() + refreshNanos; // when no refresh is under way: the next begins
        Backoff retry = new Backoff(config.reconnectDelay(), config.reconnectMaxDelay());
        @Nullable Refresh refresh = null; // the full refresh under way
        @Nullable Refresh replaced = null; // one a connect ended before it was done: the next begins with what it had left
        while (true) {
            boolean begin = false;
            Set<String> users = Set.of();
            Set<String> groups = Set.of();
            long connectsBefore = 0; // when the step started: a connect since asks for it again at once, failed or not
            AnnounceWaiters.Taken taken = AnnounceWaiters.Taken.NONE; // the waiters of the names this step announces
            AnnounceWaiters.Taken refused = AnnounceWaiters.Taken.NONE; // the waiters a back-off begun here fails
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
                        replaced = refresh; // Redis may have lost what it did (a restart): onConnected made a new one due
                        refresh = null;
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
                taken = waiters.take();
                inStep = taken;
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
                refused = waiters.take();
            } finally {
                lock.unlock();
            }
            if (takeFailed != null) {
                fail(refused, taken, takeFailed);
                failed(takeFailed, takeWaitNanos);
                continue;
            }
            try {
                if (begin) {
                    refresh = new Refresh(connectsBefore, replaced); // reads the registry after fullRefreshDue was cleared: see Bounds
                    replaced = null;
                }
                users.addAll(taken.names(Scope.USER)); // marked when asked for, unless a full refresh was due: see Waiters
                groups.addAll(taken.names(Scope.GROUP));
                sync(Scope.USER, users, taken); // the names changed first: a login waits for at most one chunk of a refresh
                sync(Scope.GROUP, groups, taken);
                users = Set.of();
                groups = Set.of();
                taken = AnnounceWaiters.Taken.NONE; // each answered (or failed by close(), which stopped the syncs)
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
                // The waiters the step took fail with it; those asked for since, only if a back-off now
                // holds the next step (as the ones asked for during it are refused at once).
                lock.lock();
                try {
                    markAgain(users, groups);
                    if (connects == connectsBefore) {
                        retryHeld = true;
                        retryAt = System.nanoTime() + waitNanos;
                        refused = waiters.take();
                    } else {
                        waitNanos = 0;
                    }
                } finally {
                    lock.unlock();
                }
                fail(refused, taken, e);
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
                    failure(LogLimiter.suppressed(log.atWarn().setMessage("cluster.presence.failed").addKeyValue("node", nodeId)
                            .addKeyValue("retryIn", Durations.format(Duration.ofNanos(waitNanos))), held), e).log();
                }
            } catch (RuntimeException | Error logFailed) {
                // out of memory even for the line: the step is done again all the same
            }
        }
    }

    private boolean hasPending() {
        return !changedUsers.isEmpty() || !changedGroups.isEmpty() || !waiters.isEmpty();
    }

    /**
     * Announces those of {@code names} the registry has a connection for now, and withdraws the
     * others; stops at close(). Answers the waiters {@code asked} of each: once its announce has
     * returned, or at once when the registry has no connection for it.
     */
    private void sync(Scope scope, Collection<String> names, AnnounceWaiters.Taken asked) {
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
        asked.absent(scope, absent);
        // A call at a time, so that close() waits for one call at most, not for the whole step.
        for (int i = 0; i < present.size() && !closed; i += CALL_BATCH) {
            List<String> batch = present.subList(i, Math.min(present.size(), i + CALL_BATCH));
            announced.addAll(batch); // before the call: see announcedUsers
            presence.announce(nodeId, scope, batch);
            asked.announced(scope, batch);
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
     * registry {@link RealClusterFanout#REFRESH_CHUNK} names at a time ({@link #sync}: each name as the registry has
     * it when its chunk is done). A chunk that fails is done again, not the refresh; one that
     * replaces a refresh a connect ended takes first the names that one had not done.
     */
    private final class Refresh {
        final long connects; // the bus's connects when it began: after another, Redis may have lost what it did
        private final long began = System.nanoTime();
        private int names; // done so far
        private final Iterator<String> users;
        private final Iterator<String> groups;
        private Scope chunkScope = Scope.USER;
        private List<String> chunk = List.of(); // taken and not yet done
        private boolean claimed; // the node id, at the first step: see the class comment, Node id

        /**
         * A refresh of every name now, those that {@code replaced} (ended by a connect, or null) had
         * not done first: however often connects come, every name is done within about one
         * refresh's time of work, rather than the first ones again and again.
         */
        Refresh(long connects, @Nullable Refresh replaced) {
            this.connects = connects;
            Set<String> u = Set.copyOf(registry.users());
            Set<String> g = Set.copyOf(registry.groups());
            Set<String> staleUsers = stale(announcedUsers, u);
            Set<String> staleGroups = stale(announcedGroups, g);
            List<String> firstUsers = replaced == null ? List.of() : replaced.left(Scope.USER);
            List<String> firstGroups = replaced == null ? List.of() : replaced.left(Scope.GROUP);
            this.users = firstThenOthers(firstUsers, u, staleUsers);
            this.groups = firstThenOthers(firstGroups, g, staleGroups);
        }

        /** {@code first}, then the names of {@code now} and {@code stale} (two sets apart) not among them. */
        private static Iterator<String> firstThenOthers(List<String> first, Set<String> now, Set<String> stale) {
            if (first.isEmpty()) {
                return Stream.concat(now.stream(), stale.stream()).iterator();
            }
            Set<String> taken = new HashSet<>(first);
            return Stream.concat(first.stream(), Stream.concat(now.stream(), stale.stream()).filter(n -> !taken.contains(n))).iterator();
        }

        /** The names of {@code scope} this refresh has not done (its chunk taken and not done included); it is done with after. */
        List<String> left(Scope scope) {
            List<String> left = new ArrayList<>(chunkScope == scope ? chunk : List.of());
            (scope == Scope.USER ? users : groups).forEachRemaining(left::add);
            return left;
        }

        /** Does the next chunk, the claim of the node id before the first; true when none is left. */
        boolean step() {
            if (!claimed) {
                claim();
                claimed = true;
            }
            if (chunk.isEmpty()) {
                chunkScope = users.hasNext() ? Scope.USER : Scope.GROUP;
                Iterator<String> from = chunkScope == Scope.USER ? users : groups;
                List<String> next = new ArrayList<>(REFRESH_CHUNK);
                while (next.size() < REFRESH_CHUNK && from.hasNext()) {
                    next.add(from.next());
                }
                chunk = next;
            }
            sync(chunkScope, chunk, AnnounceWaiters.Taken.NONE);
            names += chunk.size();
            chunk = List.of();
            return !users.hasNext() && !groups.hasNext();
        }

        /** Warns when this refresh took more than half of {@code presenceTtl - presenceRefresh}: see the class comment, Steps. */
        void ended() {
            long tookNanos = System.nanoTime() - began;
            long slackNanos = config.presenceTtl().toNanos() - config.presenceRefresh().toNanos();
            if (tookNanos > slackNanos / 2) {
                log.atWarn().setMessage("cluster.presence.slow").addKeyValue("node", nodeId).addKeyValue("names", names)
                        .addKeyValue("took", Durations.format(Duration.ofNanos(tookNanos)))
                        .addKeyValue("presenceTtl", Durations.format(config.presenceTtl()))
                        .addKeyValue("presenceRefresh", Durations.format(config.presenceRefresh())).log();
            }
        }
    }

    /**
     * Claims the node id for this instance; counts and logs another live instance holding it: see
     * the class comment, Node id. A claim that fails (Redis down or out of memory, an ACL that
     * refuses the key) is logged ({@code cluster.node.claim.failed}, WARN, one line per 5 s at most)
     * and the refresh goes on: the next one claims again, and presence is not held up by a check
     * of the operator's setup. Not counted in {@link ClusterStats#presenceFailures()}, which counts
     * the steps done again after a back-off: this is not one.
     */
    private void claim() {
        String other;
        try {
            other = presence.claim(nodeId, instance);
        } catch (RuntimeException e) {
            long held = claimLog.tryAcquire();
            if (held >= 0) {
                failure(LogLimiter.suppressed(log.atWarn().setMessage("cluster.node.claim.failed").addKeyValue("node", nodeId), held), e).log();
            }
            return;
        }
        if (other != null) {
            duplicateNode.increment();
            long held = duplicateLog.tryAcquire();
            if (held >= 0) {
                LogLimiter.suppressed(log.atError().setMessage("cluster.node.duplicate").addKeyValue("node", nodeId).addKeyValue("instance", instance)
                        .addKeyValue("other", other)
                        .addKeyValue("why", "another running node has this node id: until one is stopped they lose each other's"
                                + " broadcasts and sends, and overwrite each other's presence")
                        .addKeyValue("fix", "give each node its own nodeId"), held).log();
            }
        }
    }

    /**
     * Adds what {@code e} says under {@code error}, as every line writes an exception's text; the
     * bus's failures say what they are, anything else is a bug or worse: its stack trace too.
     */
    private static LoggingEventBuilder failure(LoggingEventBuilder line, Throwable e) {
        return e instanceof BusException ? line.addKeyValue("error", e.getMessage()) : line.addKeyValue("error", e.toString()).setCause(e);
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

    /**
     * Withdraws every name this node has announced, {@link RealClusterFanout#CALL_BATCH} at a time, until one call
     * fails or {@code presenceTtl} has passed: by then every entry of this node has expired by itself
     * (none was announced since the presence thread stopped), so going on would only hold up close.
     * A call under way then is not cut: it ends within its own command timeout. What is left is
     * logged once ({@code cluster.close.withdraw.timeout}, WARN, with the count). Never throws: a
     * failed call, or anything else (out of memory copying the names, a line that fails), ends it
     * with {@code cluster.close.withdraw} (DEBUG: the entries expire), the line guarded too. On the
     * closing thread, once the presence thread has ended.
     */
    void withdrawAll() {
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
                                .addKeyValue("left", left).addKeyValue("presenceTtl", Durations.format(config.presenceTtl())).log();
                        return;
                    }
                    List<String> batch = names.subList(i, Math.min(names.size(), i + CALL_BATCH));
                    presence.withdraw(nodeId, scope, batch);
                    left -= batch.size();
                }
            }
        } catch (Throwable e) { // an Error too (an application's Presence): the bus is closed all the same
            try {
                failure(log.atDebug().setMessage("cluster.close.withdraw").addKeyValue("node", nodeId).addKeyValue("left", left), e)
                        .log();
            } catch (Throwable logFailed) {
                // out of memory even for the line: the bus is closed all the same
            }
        }
    }
}
