package io.stcp.internal;

import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The fan-outs waiting for room in one send queue ({@link RoomWatch}): their entries in the order
 * they registered, and who is told when room comes. Made by the first fan-out that waits there;
 * every method runs with that queue's lock held.
 *
 * <p><b>Telling one at a time.</b> When the queue makes room (a batch taken, a smaller conflated
 * value) it counts a <i>room event</i> and tells only the oldest entry registered before it, not
 * every one: most often there is room for one message, and waking all would have all but one
 * offer again in vain (with a thousand fan-outs waiting at one slow recipient, a thousand
 * wake-ups per message it reads). The told entry's owner offers again, and that offer, whatever
 * its outcome, passes on ({@link #passOn}): if the queue still has room for a message, the next
 * entry registered before the last room event is told. So after a room event every entry
 * registered before it is told, one after another, until the queue is full again — and then
 * the next room event starts again. An entry that registers after the last room event has seen
 * the queue full after it, and waits for the next one. An entry is told at most once a room
 * event, so the chain ends even when no waiting message fits (a byte limit). A close tells all
 * ({@link #tellAll}).
 *
 * <p>The chain waits for each told owner's offer, so a told owner must be taking the room: an
 * owner never waits for a peer while it has an entry registered. A reader that owes its own peer
 * a drain (a write that a slow peer can hold up to the write timeout) pays it before its fan-out
 * registers anything ({@link Delivery#finish}), and a fan-out never takes a drain on; an owner
 * that gives up a told entry without offering passes the room on ({@link BoundedQueue#dropWatch}).
 *
 * <p><b>A tell that throws.</b> Telling an entry marks it {@link RoomWatch.Entry#told} before
 * anything that can throw, then unlinks it and calls {@link RoomWatch.Entry#ready()}, which may
 * throw (out of memory queueing it, a stack overflow in the unpark). The mark stays: the entry's
 * owner finds it by itself ({@link RoomWatch#next}), offers, and passes the room on, so neither
 * that owner nor the entries behind it lose the room event. So what the tell threw is dropped
 * here, and whoever made the room finishes its own work as if the tell had gone through: a
 * batch taken for writing, a message queued whose put took the write token for a drainer it
 * must start, a close. A close marks every entry before it tells any.
 *
 * <p>An entry's own states are {@link RoomWatch}'s; here it is linked ({@link RoomWatch.Entry#linked})
 * from its registration until it is told or its owner offers again.
 */
final class RoomWatchers {
    private RoomWatch.@Nullable Entry head;
    private RoomWatch.@Nullable Entry tail;
    /** Room events so far: an entry registered at this count has seen the queue full after the last. */
    private long roomEvents;

    boolean isEmpty() {
        return head == null;
    }

    /** Registers {@code e}, its wait ending at {@code deadline}, to be told of the next room made. */
    void add(RoomWatch.Entry e, long deadline) {
        e.deadline = deadline;
        e.registeredAt = roomEvents;
        e.linked = true;
        e.prev = tail;
        e.next = null;
        if (tail != null) {
            tail.next = e;
        } else {
            head = e;
        }
        tail = e;
    }

    /** Unregisters {@code e} if it is registered: its owner offers again. */
    void remove(RoomWatch.Entry e) {
        if (!e.linked) {
            return;
        }
        if (e.prev != null) {
            e.prev.next = e.next;
        } else {
            head = e.next;
        }
        if (e.next != null) {
            e.next.prev = e.prev;
        } else {
            tail = e.prev;
        }
        e.prev = e.next = null;
        e.linked = false;
    }

    /** The queue made room: a room event; the oldest entry registered before it is told. */
    void roomMade() {
        roomEvents++;
        passOn();
    }

    /** After an offer of a told entry, or while the queue has room: tells the next entry registered before the last room event, if any. */
    void passOn() {
        RoomWatch.Entry e = head;
        if (e != null && e.registeredAt < roomEvents) {
            e.told = true; // first: what its owner finds if the rest throws
            remove(e);
            handOver(e);
        }
    }

    /** Tells every entry: the queue is closing, and each offer fails. */
    void tellAll() {
        for (RoomWatch.Entry e = head; e != null; e = e.next) {
            e.told = true; // every one before any tell that can throw
        }
        for (RoomWatch.Entry e = head; e != null; e = head) {
            remove(e);
            handOver(e);
        }
    }

    /** Hands told {@code e} over to its owner and wakes it, if that does not throw; if it does, its owner finds the mark. */
    private static void handOver(RoomWatch.Entry e) {
        try {
            e.ready();
        } catch (RuntimeException | Error lost) {
            // Out of memory or stack, or a virtual thread's scheduler refusing it: the entry's owner
            // looks for its marked entries within RoomWatch.RECHECK_NANOS. The room maker's own
            // work must not be undone by a wake-up meant for someone else.
        }
    }

    /** The owners of the entries registered, in order: for tests. */
    List<Thread> owners() {
        List<Thread> owners = new ArrayList<>();
        for (RoomWatch.Entry e = head; e != null; e = e.next) {
            owners.add(e.watch.owner());
        }
        return owners;
    }
}
