package io.stcp.internal;

import io.stcp.internal.ConnectionInput.Awaiting;

/**
 * A graceful close's looks, from a thread other than the reader's, at a reader that may wait for
 * input ({@link ConnectionClose}'s linger; with no runner, the application's read the close waits
 * for, {@link RealConnection#takeInputToClose}): whether the close may close now without the peer's
 * next bytes drawing a reset, or when to look again.
 * <ul>
 *   <li>Waiting for its next value, none of it in hand, with nothing unread: the peer is idle,
 *       close now.</li>
 *   <li>Waiting for the rest of a value with nothing unread: the peer is in the middle of sending
 *       it, and its next bytes are likely on the way. Close once it has sent nothing for
 *       {@link ConnectionClose#QUIET_NANOS} since the first such look, as the reader thread's own
 *       linger does. A reader that takes the peer's bytes while a graceful close runs waits no
 *       more (the close ended its reading: {@link ConnectionInput#closing}), and the linger's reads
 *       of its end are no wait for input ({@link ConnectionInput#awaiting()}): so a wait seen again
 *       with nothing unread means that the peer has sent nothing in between (over TLS too: a read
 *       that takes part of a record, or a record without data, while a close runs ends as well).</li>
 *   <li>Not waiting, or waiting with bytes unread (it is about to take them, which ends its
 *       reading): look again when woken, or at the close's deadline.</li>
 * </ul>
 * One per close, on the closing thread; made only by a close that lingers.
 */
final class PeerQuiet {
    private final RealConnection connection;
    private boolean restSeen; // a look found the reader waiting for the rest of a value
    private long quietAt; // when the peer has been quiet long enough, from the first such look with nothing unread; 0: none yet

    PeerQuiet(RealConnection connection) {
        this.connection = connection;
    }

    /**
     * @param awaiting what the reader waits for, just looked at
     * @param deadline the close's deadline, not 0
     * @return 0 if the close may close now; else when to look again, at the latest
     */
    long closeBy(Awaiting awaiting, long deadline) {
        restSeen |= awaiting == Awaiting.REST;
        if (awaiting == Awaiting.NOTHING || connection.transport().available() != 0) {
            return deadline;
        }
        if (awaiting == Awaiting.NEXT) {
            return 0; // the peer is idle: nothing unread, no reset
        }
        long now = System.nanoTime();
        if (quietAt == 0) {
            quietAt = Nanos.deadline(now, ConnectionClose.QUIET_NANOS);
        } else if (Nanos.passed(quietAt, now)) {
            return 0; // the peer has sent nothing since the first look
        }
        return Nanos.earliest(deadline, quietAt);
    }

    /**
     * Whether the peer may still be sending, for a close that took the input
     * ({@link RealConnection#takeInputToClose}): a look found the read waiting for the rest of a
     * value, bytes unread or not, or a read took the peer's bytes after the close began (before
     * the close looked, as it drained), which ended it. Not a wait's: the close reads and drops
     * then, until the peer's end or quiet, rather than close at once.
     */
    boolean sawPeerSending() {
        return restSeen || connection.input().tookInputWhileClosing();
    }
}
