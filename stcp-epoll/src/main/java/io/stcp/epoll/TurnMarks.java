package io.stcp.epoll;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * The poll loop's turns that started a marker, and the newest of them whose marker has run.
 *
 * <p>Two states. <b>Settled</b>: the newest turn's marker has run (or no turn began). <b>Pending</b>:
 * a turn began whose marker has not run. {@link #begin()} (the poll loop only) goes to pending with a
 * new turn; {@link #ran(int)} (the marker's thread) moves the mark forward to its turn, never back,
 * and so settles only the newest turn's marker. Markers of consecutive turns can run out of order
 * (the poll loop may come back before a marker ran, when its waker gave up waiting, and two
 * carriers may each take one): an older marker that runs last must not take the mark back, or
 * every later wait would last its whole bound, with no newer marker to end it. Turns wrap; they
 * compare by their difference, right while fewer than 2<sup>31</sup> turns are outstanding.
 */
final class TurnMarks {
    private volatile int begun;          // the newest turn; written by the poll loop only
    private final AtomicInteger marked;  // the newest turn whose marker has run

    TurnMarks() {
        this(0);
    }

    /** Starting at turn {@code start}, settled; for tests of the wrap. */
    TurnMarks(int start) {
        begun = start;
        marked = new AtomicInteger(start);
    }

    /** A new turn, pending until its marker runs. The poll loop only. */
    int begin() {
        int turn = begun + 1;
        begun = turn;
        return turn;
    }

    /** The marker of {@code turn} has run (or will not: it could not start). */
    void ran(int turn) {
        marked.accumulateAndGet(turn, TurnMarks::later);
    }

    /** Whether the newest turn's marker has not run yet. */
    boolean pending() {
        return begun - marked.get() > 0;
    }

    private static int later(int a, int b) {
        return b - a > 0 ? b : a;
    }
}
