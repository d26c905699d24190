package io.stcp.internal;

import io.stcp.framing.FrameTooLongException;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * The server-wide budget (or a {@code TcpClient}'s, for its connections, or the one that the
 * connections of {@code Connection.of} share: {@link StandaloneContext}) for input received and
 * not yet given up by its reader: the arrays of large values ({@code readBytes}, {@code readLine},
 * {@code DelimiterReader}) while they fill and then while their readers hold them, until each
 * reader's next read, the return of its call or its connection's end ({@link ConnectionInput}, "A
 * value in hand"), and the copy of a delimited value out of an array longer than it
 * ({@link #copyOut}). A
 * connection that needs more than is left stops reading until other connections finish or fail
 * their values, so the kernel's window closes on its peer; it waits at most until its read deadline
 * (the frame timeout, normally), or, with no deadline, until its connection closes
 * ({@link #wakeWaiters}: a close does not interrupt the reader).
 *
 * <p>Not on the path of small messages: only arrays that grow past one read buffer reserve here.
 * A connection that waits for room keeps what it reserved before, so waits hold memory; each wait
 * ends at its deadline or close, which bounds that. A growing array takes fourfold only while that
 * leaves the budget at most half spent, and grows slowly past that (see {@link ArrayGrowth}), so
 * that a peer must send about as much as it makes the server hold beyond the first half; the
 * half is looked at and the bytes reserved in one step under the lock ({@link #reserveWithinHalf}),
 * so that growths at the same moment see each other's reservations.
 *
 * <p><b>The reserve.</b> The budget's last fifth is kept for growths that complete their values
 * (reach the end their caller gave), so that values creeping toward their ends cannot spend the
 * budget between them and all wait on each other: one of them can finish and free its part. A
 * delimited value's growth completes it only once its delimiter is buffered, not while its rest is
 * in the socket, so two long lines whose growths each left the reserve free could wait for each
 * other until their read deadlines, though the budget had room to finish one (or both). So when
 * every value holding bytes of the budget waits here for more, none of them can free any (nothing
 * but a deadline or a close would end the waits), and one value at a time whose growth does not
 * complete it may take half the reserve: it holds it until that value's reader gives it up or it
 * fails, and finishes or fails within its own deadline. The other half stays for growths that
 * complete their values whatever that value does, so that one whose peer stops, or whose line
 * needs more than there is, cannot hold up the values about to finish until its deadline (a value
 * whose last step is at most a tenth of the budget can always finish, unless values that all
 * waited filled that tenth with bytes their peers had sent: see "No wait for each other"). While a
 * value holding bytes still reads (its peer may finish it), or is read and in its reader's hands
 * (its reader will give it up), the whole reserve stays for growths that complete their values.
 * A value that no other value shares the budget with may take all of it.
 *
 * <p><b>No wait for each other.</b> A value that waits here holds what it reserved before, so
 * waits of values that all hold bytes could still form a cycle: each waits for room that only
 * another's end would make. A step is a guess (a quarter more than what arrived), and the value
 * that took half the reserve could find its next step too long for it by the few KiB its line
 * needed, or the two lines need more than nine tenths between them: two lines of just under half
 * the budget sent at once waited for each other until their deadlines so. So once every value
 * holding bytes waits, a step that does not complete its value is cut to the room its value may
 * take, down to one byte more than its array holds ({@code leastBytes}), and may go into the last
 * tenth too, with bytes its peer has sent already ({@code arrivedBytes}: buffered, or in the
 * transport as its reads will return them, {@link Transport#availableToRead()}: over TLS the bytes
 * decrypted, not the encrypted ones received, which may decrypt to far fewer; no guess; asked each
 * time it looks while all wait, for bytes reach the socket while it waits, and a count taken when
 * its step began would fail a value they finish): nothing else could use that room before one of
 * them ends, and the bytes the wait would leave in the socket are no fewer. Such a cut does not
 * take the reserve from the value that holds it. A value about to finish may then wait for the one
 * that took it, which reads bytes that are there; the tenth is never held for bytes not sent. And
 * when every value holding bytes waits and each has found no room since the last change, no wait
 * could end but by a deadline or a close: the one holding the most fails at once
 * ({@link FrameTooLongException}: the budget cannot hold its value beside the others), woken if it
 * waits, and gives its part back, rather than all of them waiting until their deadlines. The most,
 * for that frees the most and lets the smaller values finish: a peer's huge frame fails, not an
 * honest line that happened to look last. Of two that hold as much, the later to start holding
 * fails.
 *
 * <p><b>Owed drains.</b> A reader that owes the drain of replies it queued ({@link QueueWriter},
 * {@code batchReplies}) pays it before it waits here, as before a wait for input, with the lock
 * released: nobody else writes those replies, and the room it would wait for may be a value in
 * another reader's hands whose put waits for room in its queue (each waited for the other until
 * the put's block timeout). It owes none again before its reservation returns: only its reader
 * thread, which is here, makes it owe.
 *
 * <p><b>States</b>, under the lock. Each value ({@link ArrayGrowth}) holding bytes is
 * <em>reading</em> or <em>waiting</em> here while it fills, then <em>in hand</em> once read:
 * {@code holding} counts them all, {@code waitingHolders} those waiting. A value starts holding at
 * its first grant (numbered then: {@link ArrayGrowth#since}) and stops at its {@link #release}:
 * when it fails, or when its reader gives it up; it waits from its reservation's first failed look
 * to its grant, deadline, close or failure; it is in hand from the end of its read (reading →
 * in hand: it keeps its own bytes beyond a read buffer's worth, {@link #keep}, or releases if it
 * needs none) to its release, which its reader's next read makes before that read could reserve,
 * so a value in hand never waits, grows or looks here again. So a value in hand is neither
 * waiting nor ever failed ({@code largest} is chosen among values that found no room): like a
 * reading one, it keeps the budget from being stuck, and the values waiting for room wait for its
 * release (the reader's next read, the return of its call, the connection's end) or their
 * deadlines, not fail for bytes that will come back. All are waiting ({@code waitingHolders ==
 * holding}: <em>stuck</em>) only when the last reading one starts to wait, or the last one not
 * waiting (reading or in hand) releases; both wake the waiters.
 * <ul>
 *   <li>The reserve ({@code holder}), one value at a time: <em>free</em> (null) → <em>held</em> by
 *       a value when a growth of it that does not complete it is granted bytes past four fifths
 *       while the reserve is free (its room allowed them: while stuck, or while it was alone; or
 *       a cut with bytes arrived, while stuck) → <em>free</em> at that value's release, and not
 *       before: a grant to another value past four fifths (a growth that completes its value, a
 *       cut with bytes arrived) leaves it to its holder. There is no other hand-over: a reserve
 *       given back is taken by the next value granted bytes past four fifths while it is free.</li>
 *   <li>Room: a growth that does not complete its value fits within four fifths of the budget,
 *       or within nine tenths if its value holds the reserve or the reserve is free and the budget
 *       stuck, or within all of it if no other value holds bytes; one that completes its value
 *       fits within all of it; while stuck, one that does not complete its value is cut to what
 *       fits if its least does (its room, or all of the budget for bytes that have arrived).
 *       Which waiting value takes a free reserve is whichever looks first.</li>
 *   <li>Rounds of looks: {@code changes} counts the events that may let a waiting value fit (a
 *       release, a copy in its array's place, a value read keeping less, a close, the budget
 *       becoming stuck, a value leaving its wait); each starts a round ({@link #nextRound}). In a
 *       round each waiting value holding bytes that finds no room counts once in {@code unfit}
 *       ({@code unfitAt}: the round), and the one holding the most so far is {@code largest}
 *       (never one in hand, which does not look). When {@code unfit} reaches {@code holding}
 *       (all of them wait and found no room in this round), {@code largest} becomes
 *       {@code failing}. If that is the value that looked last, it throws at once (it has just
 *       found no room). Else the waiters are woken without a new round: the others look again
 *       (one may be cut now, with bytes that arrived since) and wait on; {@code failing} throws
 *       when it looks, unless it fits first. The next round (its failure leaving its wait is one)
 *       clears {@code failing} and {@code largest}: a value chosen in a round that an event ended
 *       does not fail, unless it is chosen again in a later one.</li>
 * </ul>
 */
final class InboundBudget {
    private final long limitBytes;
    private final String owner;   // whose it is, for the messages that name it: "server's"
    private final String setting; // what sizes it, for the same messages
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition freed = lock.newCondition();
    private volatile long usedBytes; // written under lock; read without it by usedBytes()
    private long peakBytes;          // the most usedBytes has been; guarded by lock
    private final long reserveBytes; // the last fifth: see the class comment
    private int waiters;    // reservations waiting for room; guarded by lock
    private int holding;        // values holding bytes: reading, waiting or in hand; guarded by lock
    private int waitingHolders; // of those, the ones waiting here for more; guarded by lock
    private @Nullable ArrayGrowth holder; // the value holding the reserve, or null; guarded by lock
    private long changes;   // events that may let a waiting value fit; guarded by lock
    private long unfitAt = -1; // the count of changes that unfit is of; guarded by lock
    private int unfit;      // waiting values holding bytes that found no room since change unfitAt; guarded by lock
    private @Nullable ArrayGrowth largest; // of those, the one holding the most, or null; guarded by lock
    private long largestBytes;  // what it holds; guarded by lock
    private long largestSince;  // when it started holding ({@link ArrayGrowth#since}); guarded by lock
    private @Nullable ArrayGrowth failing; // the one to fail once all of them found no room, or null; guarded by lock
    private long started;   // values that have started holding bytes: the order of their starts; guarded by lock

    /** A server's budget of {@code limitBytes}. */
    InboundBudget(long limitBytes) {
        this(limitBytes, "server's", "ServerConfig.inboundBudget");
    }

    /**
     * @param owner whose it is, for messages: {@code "client's"} (a {@code TcpClient}'s), or
     *     {@code "standalone connections'"} (those of {@code Connection.of})
     * @param setting what sizes it, for messages: {@code "ClientConfig.inboundBudget"}
     */
    InboundBudget(long limitBytes, String owner, String setting) {
        this.limitBytes = limitBytes;
        this.reserveBytes = limitBytes / 5;
        this.owner = owner;
        this.setting = setting;
    }

    long limitBytes() {
        return limitBytes;
    }

    /** "the server's inbound budget of N bytes", or the owner's it was made for: for messages. */
    String describe() {
        return "the " + owner + " inbound budget of " + limitBytes + " bytes";
    }

    /** The setting that sizes it, for messages: {@code ServerConfig.inboundBudget}, or the one it was made with. */
    String setting() {
        return setting;
    }

    /**
     * Reserves exactly {@code bytes}, as {@link #reserve(long, long, LongSupplier, boolean, ArrayGrowth, long, BooleanSupplier)} does.
     *
     * @return false, with nothing reserved, if the deadline passed first
     */
    boolean reserve(long bytes, boolean completes, @Nullable ArrayGrowth value, long deadlineNanos,
                    BooleanSupplier open) throws java.io.IOException {
        return reserve(bytes, bytes, () -> 0, completes, value, deadlineNanos, open) >= 0;
    }

    /**
     * Reserves {@code bytes} for {@code value}, waiting while the budget is spent, until
     * {@code deadlineNanos} (0 = none) or until {@code open} turns false (looked at under the lock,
     * before each wait); or fewer, at least {@code leastBytes}, once every value holding bytes
     * waits (see the class comment, "No wait for each other").
     *
     * @param leastBytes the fewest bytes the value can go on with (1 to {@code bytes}; {@code bytes}
     *     for a growth that completes its value)
     * @param arrivedBytes of {@code bytes}, those its peer has sent already (buffered, or in the
     *     transport as its reads will return them: over TLS, decrypted): a cut step may take them
     *     into the last tenth; asked under the lock, on the value's reader thread, only while every
     *     value holding bytes waits, each time this value looks (more may have come)
     * @param completes whether an array of these bytes holds the whole value: if not, it leaves the
     *     reserve free unless it may take it (see the class comment)
     * @param value the value reserving, which gives them back with {@link #release}; null for bytes
     *     given back by no one, held as by a value that never waits (tests' other connections)
     * @param open whether the connection reserving is still open; its close must then call {@link #wakeWaiters}
     * @return the bytes reserved, or -1, with nothing reserved, if the deadline passed first (the
     *     caller knows which of its deadlines that was)
     * @throws FrameTooLongException if every value holding bytes waits, none has room, and this
     *     one holds the most of them: it cannot be held beside the others (nothing reserved; it
     *     still holds its part until its {@link #release})
     * @throws ClosedChannelException if the connection closes first
     * @throws java.io.InterruptedIOException if interrupted while waiting
     */
    long reserve(long bytes, long leastBytes, LongSupplier arrivedBytes, boolean completes, @Nullable ArrayGrowth value,
                 long deadlineNanos, BooleanSupplier open) throws java.io.IOException {
        long held = value == null ? 0 : value.heldBytes();
        boolean holds = held > 0;
        boolean counted = false; // this value is one of the waitingHolders
        long looked = -1;        // the count of changes at which this value last found no room
        lock.lock();
        try {
            while (true) {
                long room = room(completes, value, holds);
                if (usedBytes + bytes <= room) {
                    break;
                }
                // Stuck: the step cut to its room, or to the bytes arrived if they go further.
                if (counted && waitingHolders == holding && !completes) {
                    long arrived = Math.min(bytes, arrivedBytes.getAsLong());
                    long most = Math.max(room, Math.min(limitBytes, usedBytes + arrived));
                    if (usedBytes + leastBytes <= most) {
                        bytes = most - usedBytes;
                        break;
                    }
                }
                if (!open.getAsBoolean()) {
                    throw new ClosedChannelException(); // closed while its frame waited for room
                }
                if (value != null && value.owesDrain()) {
                    lock.unlock(); // a blocking write: see "Owed drains" in the class comment
                    try {
                        value.payOwedDrain();
                    } finally {
                        lock.lock();
                    }
                    continue; // room may have come meanwhile
                }
                if (holds && !counted) {
                    counted = true;
                    if (++waitingHolders == holding) {
                        changed(); // stuck: one of the waiters may take the reserve
                        continue;  // this one, perhaps
                    }
                }
                if (holds && looked != changes) {
                    looked = changes;
                    unfit(value, held);
                }
                if (failing == value && value != null) {
                    // Every value holding bytes waits, none has room, and this one holds the most.
                    throw new FrameTooLongException("a value holding " + held + " bytes of " + describe()
                            + ", the most of the values waiting in it, each for more,"
                            + " needs at least " + leastBytes + " bytes more, and none of them has room: it fails,"
                            + " and the others go on (" + setting() + ")");
                }
                waiters++;
                try {
                    if (deadlineNanos == 0) {
                        freed.await();
                    } else {
                        long left = deadlineNanos - System.nanoTime();
                        if (left <= 0) {
                            return -1;
                        }
                        freed.awaitNanos(left);
                    }
                } finally {
                    waiters--;
                }
            }
            grant(bytes, value, holds);
            if (!completes && holder == null && usedBytes > limitBytes - reserveBytes) {
                holder = value; // free → held; a value that holds it keeps it, and a cut of another's leaves it so
            }
            return bytes;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while waiting for the inbound budget");
        } finally {
            if (counted) {
                waitingHolders--;
                nextRound(); // its part may be given back now, or the budget is no longer stuck: counts of no room start anew
            }
            lock.unlock();
        }
    }

    /**
     * A waiting {@code value} holding {@code held} bytes found no room in this round (the changes
     * counted at {@code unfitAt}); once every value holding bytes has, the one holding the most
     * ({@link #largest}; of two that hold as much, the later to start holding) is to fail, and is
     * woken. Under the lock.
     */
    private void unfit(ArrayGrowth value, long held) {
        if (unfitAt != changes) {
            unfitAt = changes; // a new round: largest is null (nextRound)
            unfit = 0;
        }
        if (largest == null || held > largestBytes || held == largestBytes && value.since() > largestSince) {
            largest = value;
            largestBytes = held;
            largestSince = value.since();
        }
        if (++unfit == holding) {
            failing = largest;
            if (failing != value) {
                freed.signalAll(); // it wakes to fail; no change: the others, having looked in this round, wait on
            }
        }
    }

    /** Something happened that may let a waiting reservation fit: they look again, and count anew. Under the lock. */
    private void changed() {
        nextRound();
        freed.signalAll();
    }

    /** A new round of looks: counts of no room start anew, and a value chosen to fail in the last no longer does. Under the lock. */
    private void nextRound() {
        changes++;
        failing = null;
        largest = null;
    }

    /**
     * The most bytes that may be used once a reservation (see the class comment) is granted:
     * all of the budget for a growth that completes its value or whose value is the only one
     * holding bytes; all but half the reserve for the value that holds it, or may take it; all but
     * the reserve otherwise.
     */
    private long room(boolean completes, @Nullable ArrayGrowth value, boolean holds) {
        if (completes || holding == (holds ? 1 : 0)) {
            return limitBytes;
        }
        boolean mayTakeReserve = holder == value && value != null || holder == null && waitingHolders == holding;
        return mayTakeReserve ? limitBytes - reserveBytes / 2 : limitBytes - reserveBytes;
    }

    private void grant(long bytes, @Nullable ArrayGrowth value, boolean holds) {
        usedBytes += bytes;
        peakBytes = Math.max(peakBytes, usedBytes);
        if (!holds) {
            holding++; // its first bytes (bytes of no value count as a value's each time)
            if (value != null) {
                value.startedHolding(++started);
            }
        }
    }

    /** A connection has closed: its reservation, if it waits, looks again (after the close, under the lock). */
    void wakeWaiters() {
        lock.lock();
        try {
            if (waiters > 0) {
                changed();
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * A value read keeps {@code keptBytes} of the {@code heldBytes} it holds (fewer, more than
     * none) while its reader holds it (in hand: see the class comment): the rest, an array a
     * shorter copy was made of, is garbage now and given back. No state changes but the bytes.
     */
    void keep(long heldBytes, long keptBytes) {
        lock.lock();
        try {
            usedBytes -= heldBytes - keptBytes;
            changed();
        } finally {
            lock.unlock();
        }
    }

    /** Gives back the {@code bytes} that {@code value} holds, all of them: its value failed, or its reader gave it up. */
    void release(long bytes, ArrayGrowth value) {
        if (bytes == 0) {
            return; // it holds nothing (and so not the reserve)
        }
        lock.lock();
        try {
            usedBytes -= bytes;
            holding--;
            if (holder == value) {
                holder = null; // held → free
            }
            changed();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Counts a copy of {@code copyBytes} out of the array of a value that holds {@code heldBytes}
     * (more), in one step and without waiting: on top of the array's part when the budget holds
     * both, else in its place, the array's part given back (the array is garbage once the copy is
     * made, as a growing array's previous one is). A copy that waited for room while its array
     * held its part would wait on another value's copy doing the same until their deadlines.
     *
     * @return the bytes the value holds now
     */
    long copyOut(long heldBytes, long copyBytes) {
        lock.lock();
        try {
            if (usedBytes + copyBytes <= limitBytes) {
                usedBytes += copyBytes;
                peakBytes = Math.max(peakBytes, usedBytes);
                return heldBytes + copyBytes;
            }
            usedBytes += copyBytes - heldBytes; // never more: the copy is shorter than the array
            if (copyBytes < heldBytes) {
                changed();
            }
            return copyBytes;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Reserves {@code bytes} if the budget is then at most half spent, else nothing; never waits.
     * The check and the reservation are one step under the lock: two growths at the same moment
     * cannot both see room below half that only one of them fits in.
     *
     * @return whether the bytes were reserved
     */
    boolean reserveWithinHalf(long bytes, ArrayGrowth value) {
        boolean holds = value.heldBytes() > 0;
        lock.lock();
        try {
            if (usedBytes + bytes > limitBytes / 2) {
                return false;
            }
            grant(bytes, value, holds);
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Reservations waiting for room now; for tests. */
    int waiters() {
        lock.lock();
        try {
            return waiters;
        } finally {
            lock.unlock();
        }
    }

    /** The most bytes reserved at once since the budget was made; for tests. */
    long peakBytes() {
        lock.lock();
        try {
            return peakBytes;
        } finally {
            lock.unlock();
        }
    }

    /** The bytes reserved now. */
    long usedBytes() {
        return usedBytes;
    }
}
