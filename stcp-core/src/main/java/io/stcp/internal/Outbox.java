package io.stcp.internal;

import io.stcp.NotConnectedException;
import io.stcp.SendException;
import io.stcp.Sender;
import io.stcp.SenderClosedException;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Where a {@link RealTcpClient}'s puts go: the sender of the connection that is up, else the
 * offline queue, else nowhere ({@link NotConnectedException}).
 *
 * <p><b>States</b> ({@link #state}, guarded by {@link #lock}): NEW (puts fail: not started) → OPEN
 * (the client runs) → CLOSED (puts fail, the offline queue is emptied); or OPEN → SHUTTING →
 * CLOSED for a graceful shutdown that finds a backlog to deliver — kept in the queue, or being
 * handed over ({@link #shutDown}): puts fail and no connection is up any more, but the backlog
 * still goes to the next connection as while OPEN — a hand-over under way goes on to the end of
 * the queue, one whose connection breaks puts its rest back, the client dials on and a connection
 * that comes up takes it ({@link #tryGoUp}) — while the shutdown waits for it
 * ({@link #awaitDelivered}) and then closes, discarding what is left. {@link #up} is the sender
 * of the connection that is up, or null; it is set only under the lock while OPEN.
 * {@link #handOvers} counts the hand-overs under way: from the {@link #tryGoUp} that found a
 * backlog to the end of their {@link #goUp}, or their {@link #abandon}.
 *
 * <p><b>Order.</b> A connection goes up at its last start hook: at once if the offline queue
 * is empty ({@link #tryGoUp}), else through a hand-over on a thread of its own ({@link #goUp}),
 * while the reader reads (a backlog larger than the socket's buffers must not keep the replies it
 * causes unread: the server would drop the client as a slow consumer). The offline queue is taken
 * under the lock and handed to the sender outside it (waiting for room as any put does), again
 * until the queue is found empty under the lock — and then, in that same locked step, {@link #up}
 * is set. A put that finds no connection up queues under the lock. So every
 * message either is in the queue before the hand-over ends, or is put after it: the order of puts
 * is kept across a reconnection. {@link #up} is cleared by the connection's exit ({@link
 * #goDown}), by a put that finds its sender closed, and by {@link #close()}.
 *
 * <p><b>Discards.</b> A message taken from the offline queue by a hand-over belongs to the
 * hand-over until its sender accepts it, and counts against the queue's limits until then: if the
 * connection breaks first, it goes back to the queue (within the limits: puts meanwhile found them taken);
 * if the client has closed meanwhile, it is discarded and counted with what the close emptied from
 * the queue, so a graceful shutdown does not report as written a backlog it cut short
 * ({@link #unwritten()}). A message its sender refuses (larger than the sender's limits, or no
 * room after the wait its policy allows; or anything else a sender of the user's throws, an Error
 * such as out of memory included) cannot be written on any connection: it is dropped, counted
 * ({@link #dropped()}, with the discards in {@link #unwritten()}: a shutdown must not report it
 * written either) and logged, and the hand-over goes on with the next. A throw that ended the hand-over
 * would leave the rest neither written nor counted, and the connection never up. A hand-over
 * whose connection has ended while it is stuck in a put (a sender of the user's that ignores its
 * close) is abandoned by that connection's exit
 * ({@link #abandon}): its rest goes back to the queue then, before the next connection is
 * dialled, which therefore finds it there and hands it over first; the stuck thread, whenever it
 * returns, changes nothing. Each hand-over's progress ({@link HandOver}) is guarded by the lock.
 *
 * <p>No user code runs under the lock: senders are called outside it, {@link Sender#isClosed()}
 * included (a sender of the user's may take its own lock for it, held meanwhile by a put that
 * waits for room: every put of the client would wait behind it).
 */
final class Outbox {
    private static final int NEW = 0;
    private static final int OPEN = 1;
    private static final int SHUTTING = 2;
    private static final int CLOSED = 3;
    private static final RateLimiter DROPPED_LOG = new RateLimiter(TimeUnit.SECONDS.toNanos(10));

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition(); // up, or closed
    private int state = NEW;                                // guarded by lock
    private final @Nullable OfflineQueue offline;           // guarded by lock; null: fail fast
    private final AtomicReference<@Nullable Sender> up = new AtomicReference<>();
    private final Supplier<NotConnectedException> notConnected;
    private final String address;
    private int discardedByClose;                           // guarded by lock
    private long dropped;                                   // guarded by lock: refused by a hand-over's sender
    private int handOvers;                                  // guarded by lock: hand-overs under way

    /**
     * @param offline the offline queue, or null to fail puts while no connection is up
     * @param notConnected the exception for a put with nowhere to go; must not take locks of the client
     * @param address the client's address, for log lines
     */
    Outbox(@Nullable OfflineQueue offline, Supplier<NotConnectedException> notConnected, String address) {
        this.offline = offline;
        this.notConnected = notConnected;
        this.address = address;
    }

    /** The client started: puts may queue offline from now on. */
    void open() {
        lock.lock();
        try {
            if (state == NEW) {
                state = OPEN;
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * The client closed: no connection is up any more, the offline queue is emptied, and what it
     * held is counted discarded and logged ({@code client.offline.discarded}). Idempotent.
     */
    void close() {
        int n = 0;
        lock.lock();
        try {
            if (state == CLOSED) {
                return;
            }
            state = CLOSED;
            up.set(null);
            changed.signalAll();
            n = offline == null ? 0 : offline.clear();
            discardedByClose += n;
        } finally {
            lock.unlock();
        }
        logDiscarded(n);
    }

    /**
     * Messages accepted by puts into the offline queue that will never be written: discarded
     * because the client closed — what the queue held then, and what a hand-over in progress had
     * taken from it and not yet given to its sender (counted when the hand-over stops, on the
     * connection's reader thread, before its exit) — and {@linkplain #dropped() dropped} by a
     * hand-over, its sender refusing them. Whole once the client has terminated.
     */
    long unwritten() {
        lock.lock();
        try {
            return discardedByClose + dropped;
        } finally {
            lock.unlock();
        }
    }

    /** Messages taken from the offline queue by a hand-over and refused by its sender: never written. */
    long dropped() {
        lock.lock();
        try {
            return dropped;
        } finally {
            lock.unlock();
        }
    }

    @Nullable Sender up() {
        return up.get();
    }

    /**
     * The client shuts down: no connection is up any more and puts fail, as after {@link #close()};
     * but if there is a backlog to deliver — in the offline queue, or being handed over — it goes
     * on to the next connection (SHUTTING), and the queue is emptied only by the {@link #close()}
     * that follows ({@link #awaitDelivered}). Does nothing if there is none, or if not OPEN.
     *
     * @return true if there is a backlog to deliver: SHUTTING now
     */
    boolean shutDown() {
        lock.lock();
        try {
            if (state != OPEN || !backlog()) {
                return false;
            }
            state = SHUTTING;
            up.set(null);
            changed.signalAll();
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Whether the offline queue holds messages, or a hand-over is under way. Under the lock. */
    private boolean backlog() {
        return handOvers > 0 || (offline != null && !offline.isEmpty());
    }

    /**
     * Waits, while shutting down, until the backlog has been delivered — the queue empty and no
     * hand-over under way —, or {@code deadline} ({@code nanoTime}, 0: none) passes, or this
     * thread is interrupted (which is kept set), or the outbox closes.
     *
     * @return true if it has been delivered
     */
    boolean awaitDelivered(long deadline) {
        lock.lock();
        try {
            while (backlog() && state == SHUTTING) {
                if (!awaitChange(deadline)) {
                    return false;
                }
            }
            return !backlog();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !backlog();
        } finally {
            lock.unlock();
        }
    }

    /** Waits until a connection is up; false on timeout or once closed. */
    boolean awaitUp(Duration timeout) throws InterruptedException {
        long deadline = Nanos.within(timeout);
        lock.lock();
        try {
            while (up.get() == null && (state == NEW || state == OPEN)) {
                if (!awaitChange(deadline)) {
                    return false;
                }
            }
            return up.get() != null;
        } finally {
            lock.unlock();
        }
    }

    /** Waits for a change of state until {@code deadline} (0: none); false once it has passed. Under lock. */
    private boolean awaitChange(long deadline) throws InterruptedException {
        if (deadline == 0) {
            changed.await();
            return true;
        }
        long left = Nanos.left(deadline, System.nanoTime());
        if (left == 0) {
            return false;
        }
        changed.awaitNanos(left);
        return true;
    }

    /**
     * A put: to the connection that is up, or into the offline queue, or {@link NotConnectedException}.
     * A sender found closed (its connection is ending) is no longer up, and the put looks again:
     * whichever way it found the sender, first or under the lock (a connection that came up
     * meanwhile), a message the offline queue would keep is kept.
     */
    void send(@Nullable Object key, byte[] bytes) {
        while (true) {
            Sender s = up.get();
            if (s == null) {
                lock.lock();
                try {
                    s = up.get();
                    if (s == null) {
                        if (offline == null || state != OPEN) {
                            throw notConnected.get();
                        }
                        offline.add(key, bytes);
                        return;
                    }
                } finally {
                    lock.unlock();
                }
            }
            try {
                put(s, key, bytes);
                return;
            } catch (SenderClosedException e) {
                up.compareAndSet(s, null); // never set again: a sender goes up only while open
            }
        }
    }

    /**
     * At the connection's last start hook: makes {@code s} the one that is up if there is no backlog to
     * hand it first (or nothing to do: the client or the connection closed; or, shutting down, no
     * backlog left: nothing goes up then).
     *
     * @return null, or if there is a backlog, its hand-over, under way from now on: {@link #goUp}
     *     it on a thread of its own, or {@link #abandon} it
     */
    @Nullable HandOver tryGoUp(Sender s) {
        boolean closed = s.isClosed(); // the user's code, maybe: never under the lock
        lock.lock();
        try {
            if ((state != OPEN && state != SHUTTING) || closed) {
                return null;
            }
            if (offline != null && !offline.isEmpty()) {
                handOvers++;
                return new HandOver(s);
            }
            if (state == OPEN) {
                up.set(s);
                changed.signalAll();
            }
            return null;
        } finally {
            lock.unlock();
        }
    }

    /**
     * One connection's hand-over of the offline queue: its sender, the batch it took last and how
     * far it got (guarded by the outbox's lock), and whether its connection's exit left it behind
     * ({@link #abandon}).
     */
    static final class HandOver {
        private final Sender sender;
        private List<OfflineQueue.Entry> batch = List.of(); // guarded by the outbox's lock
        private int next;                                   // guarded by the outbox's lock: the first entry not handed on
        private boolean abandoned;                          // guarded by the outbox's lock
        private boolean ended;                              // guarded by the outbox's lock: no longer counted under way

        private HandOver(Sender sender) {
            this.sender = Objects.requireNonNull(sender, "sender");
        }
    }

    /**
     * The hand-over: gives {@code h}'s sender the offline queue, then makes it the one that is up
     * (while shutting down, it stops at the queue's end, nothing up). Returns once that is done,
     * or once the client or the connection closed (what was not given back to the queue then), or
     * at once if {@code h} was abandoned meanwhile. Ends {@code h} whichever way it returns.
     */
    void goUp(HandOver h) {
        try {
            handOver(h);
        } finally {
            ended(h);
        }
    }

    private void handOver(HandOver h) {
        Sender s = h.sender;
        while (true) {
            List<OfflineQueue.Entry> batch;
            boolean senderClosed = s.isClosed(); // the user's code, maybe: never under the lock
            lock.lock();
            try {
                if (h.abandoned || (state != OPEN && state != SHUTTING) || senderClosed) {
                    return;
                }
                if (offline == null || offline.isEmpty()) {
                    if (state == OPEN) {
                        up.set(s);
                        changed.signalAll();
                    }
                    return;
                }
                batch = offline.takeAll();
                h.batch = batch;
                h.next = 0;
            } finally {
                lock.unlock();
            }
            for (int i = 0; i < batch.size(); i++) {
                OfflineQueue.Entry e = batch.get(i);
                try {
                    put(s, e.key(), e.bytes());
                    if (!handedOn(h, e)) {
                        return; // abandoned: the rest went back to the queue then
                    }
                } catch (SenderClosedException closed) {
                    abandon(h); // stopped short: the rest for the next connection (an abandon after this has nothing to take back)
                    return;
                } catch (RuntimeException | Error refused) { // a SendException, a sender of the user's that broke, out of memory
                    long n = refusedBy(h, e);
                    if (n == 0) {
                        return;
                    }
                    long held = DROPPED_LOG.tryAcquire();
                    if (held >= 0) {
                        Log.suppressed(Log.conn(Log.WARN, "client.offline.dropped", s.connection())
                                .addKeyValue("dropped", n), held)
                                .addKeyValue("error", refused.getMessage())
                                .setCause(refused instanceof SendException ? null : refused).log();
                    }
                }
            }
        }
    }

    /**
     * The connection of {@code h} has ended and its hand-over is stuck in a put (a sender of the
     * user's that ignores its close): what it had not handed on goes back to the queue now, for the
     * next connection (or is counted discarded if the client closed), not whenever that put
     * returns — by then the next connection could be up, and would never be given it. The put in
     * progress is taken back too: its connection has ended, so it writes nothing. Whatever the
     * hand-over does when it returns is ignored. Also the hand-over's own end when it stops short
     * (its sender closed): the same taking back, once, whichever comes first; and the end of one
     * that never began (no thread for it). Ends {@code h}.
     */
    void abandon(HandOver h) {
        int discarded = 0;
        lock.lock();
        try {
            if (!h.abandoned) {
                h.abandoned = true;
                discarded = restBack(h);
            }
            ended(h);
        } finally {
            lock.unlock();
        }
        logDiscarded(discarded);
    }

    /** {@code h} is no longer under way (once): a shutdown waiting for it goes on. */
    private void ended(HandOver h) {
        lock.lock();
        try {
            if (!h.ended) {
                h.ended = true;
                handOvers--;
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /** The connection of {@code s} is ending. */
    void goDown(Sender s) {
        up.compareAndSet(s, null);
    }

    /**
     * {@link #handedOn}, for an entry its sender refused: dropped, and counted.
     *
     * @return the messages dropped so far, this one included; 0, doing nothing, if {@code h} was abandoned
     */
    private long refusedBy(HandOver h, OfflineQueue.Entry e) {
        lock.lock();
        try {
            return handedOn(h, e) ? ++dropped : 0;
        } finally {
            lock.unlock();
        }
    }

    /**
     * An entry of a hand-over's batch no longer counts against the offline queue's limits; false,
     * doing nothing, if the hand-over was abandoned (its rest, this entry included, is back in the queue).
     */
    private boolean handedOn(HandOver h, OfflineQueue.Entry e) {
        OfflineQueue q = Objects.requireNonNull(offline); // the batch came from it
        lock.lock();
        try {
            if (h.abandoned) {
                return false;
            }
            q.handedOn(e);
            h.next++;
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * What {@code h} has not handed on goes back to the queue — for the next connection, while the
     * client runs or a shutdown waits for the backlog to be delivered —, or is discarded and
     * counted if the client closed; under the lock. Returns how many were discarded.
     */
    private int restBack(HandOver h) {
        List<OfflineQueue.Entry> rest = h.batch.subList(h.next, h.batch.size());
        h.batch = List.of();
        h.next = 0;
        if (rest.isEmpty()) {
            return 0;
        }
        OfflineQueue q = Objects.requireNonNull(offline); // the batch came from it
        if (state == OPEN || state == SHUTTING) {
            q.putBack(rest);
            return 0;
        }
        rest.forEach(q::handedOn); // discarded: the client closed
        discardedByClose += rest.size();
        return rest.size();
    }

    private void logDiscarded(int discarded) {
        if (discarded > 0) {
            Log.CLIENT.atDebug().setMessage("client.offline.discarded").addKeyValue("address", address)
                    .addKeyValue("discarded", discarded).log();
        }
    }

    private static void put(Sender s, @Nullable Object key, byte[] bytes) {
        if (key == null) {
            s.put(bytes);
        } else if (key instanceof Integer i) {
            s.put(i.intValue(), bytes);
        } else {
            s.put((String) key, bytes);
        }
    }
}
