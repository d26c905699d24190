package io.stcp.internal;

import io.stcp.Durations;
import io.stcp.FrameTimeoutException;
import io.stcp.ReadTimeoutException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.time.Instant;

/**
 * The deadlines a connection's reads wait under, each a {@code nanoTime} value, 0 for none; a
 * wait takes the earliest:
 * <ul>
 *   <li>the read timeout (idle): each wait at most this long;</li>
 *   <li>the read deadline the user set;</li>
 *   <li>the first-frame deadline, from the accept until the reader's first call returns, or a
 *       framing reader completes a frame in it ({@link #frameEnded});</li>
 *   <li>the frame deadline: while a reader call is inside a frame (it consumed bytes, or part of
 *       the next value is buffered, or a layer holds part of a TLS record), its first wait starts
 *       the frame timeout; the return of a call that consumed bytes ends it, and so does a frame
 *       that a framing reader completed inside a call ({@link #frameEnded}). A call that returns
 *       having consumed nothing (a reader that caught a read timeout to send a ping, say) leaves
 *       the frame where it was, and its deadline runs on into the next call: a peer that sends
 *       part of a frame and stops is not given a new frame timeout at every read timeout. Waits
 *       between frames are not bounded by it, and reading without waiting costs nothing.</li>
 * </ul>
 * The first-frame and frame deadlines raise {@link FrameTimeoutException}, which ends the
 * connection even if the reader catches it, and the reader's input with it
 * ({@link ConnectionInput#endsInput}); the others {@link ReadTimeoutException}, which leaves it
 * usable — except one that cut a framing reader's frame ({@link CutFrames}), which ends both too.
 * A wait computes {@code nanoTime} only when some deadline applies.
 *
 * <p><b>Suspensions.</b> A read loop that waits for its next frame with no thread
 * ({@link #suspend()}) is ended by the absolute deadlines (the read deadline, the first frame's)
 * through a deadline the sweeper watches, and by the read timeout through a {@link ReadIdleWatch},
 * which counts instead of reading the clock; then the next wait throws
 * ({@link ConnectionInput#idleTimedOut()}).
 *
 * <p><b>Threads.</b> The reader thread waits and marks its calls; the read timeout and the read
 * deadline may be set from any thread and apply from the next wait on.
 */
final class ReadDeadlines {
    private static final VarHandle SUSPENDED_IDLE = Fields.handle(MethodHandles.lookup(), "suspendedIdleNanos", long.class);

    private final long frameTimeoutNanos;
    // Reader thread only.
    private long firstFrameDeadlineNanos;    // 0 once the first call returned, or a frame ended in it
    private long callStartBytes = -1;        // bytes read when the current reader call began; -1 outside calls
    private long frameStartBytes = -1;       // bytes read when its frame began: at the call's start, or a frame's end; -1 outside calls
    private long hooksStartBytes = -1;       // bytes read when the start hooks began; -1 outside them
    private long valueStartBytes = -1;       // no runner: bytes read when the value under way began (see beginApplicationRead); -1 before the first read
    private long frameDeadlineNanos;         // set at the first wait inside a frame
    private boolean messageTaken;            // a frame ended, or a call returned having consumed bytes
    private long suspendedIdleNanos;         // the read timeout of the last suspension; read by the sweeper (opaque)
    // Any thread.
    private volatile long readTimeoutNanos;
    private volatile long readDeadlineNanos;

    /**
     * @param firstFrameTimeoutNanos 0 = none; counts from now
     * @param frameTimeoutNanos 0 = none
     */
    ReadDeadlines(long firstFrameTimeoutNanos, long frameTimeoutNanos) {
        this.firstFrameDeadlineNanos = Nanos.deadline(System.nanoTime(), firstFrameTimeoutNanos);
        this.frameTimeoutNanos = frameTimeoutNanos;
    }

    /** The first-frame deadline, 0 for none (or once the first frame is done). */
    long firstFrameNanos() {
        return firstFrameDeadlineNanos;
    }

    /** The runner is about to call the reader, which has read {@code bytesRead} bytes so far. */
    void beginCall(long bytesRead) {
        callStartBytes = frameStartBytes = bytesRead;
    }

    /**
     * A framing reader (or {@code readLine}) completed a frame, {@code bytesRead} bytes in all, in
     * the current call: the frame's deadline is over, the first frame is done if this was it, and
     * the next frame begins with its next byte. So a reader that reads many frames in one call (one
     * that serves a whole conversation in it) is given a frame timeout for each, not one for the
     * whole call, which closed it as {@code FRAME_TIMEOUT} once it had waited that long for its
     * peer between frames (and the first-frame timeout after the accept, whatever it had read).
     * Outside the start hooks on a connection no runner reads, the application's next value
     * begins there ({@link #beginApplicationRead}).
     */
    void frameEnded(long bytesRead) {
        if (callStartBytes >= 0) {
            frameStartBytes = bytesRead;
            frameDeadlineNanos = 0;
            firstFrameDeadlineNanos = 0;
            messageTaken = true;
        } else if (hooksStartBytes < 0) {
            valueStartBytes = bytesRead; // an application's read, no runner: its next value begins
        }
    }

    /**
     * The reader's call returned, having read {@code bytesRead} bytes in all: the first frame is
     * over, and so is the call's frame if the call consumed some.
     */
    void endCall(long bytesRead) {
        if (bytesRead != callStartBytes) {
            frameDeadlineNanos = 0;
            messageTaken = true;
        }
        callStartBytes = frameStartBytes = -1;
        firstFrameDeadlineNanos = 0;
    }

    /**
     * Whether the reader has taken a whole message from the peer: a framing reader (or
     * {@code readLine}) completed a frame, or a reader call returned having consumed bytes. Bytes
     * that no call got through — a TLS alert read as a frame's header by a plain-text client — are
     * not one. Read by the reader thread, or by another once the connection has exited.
     */
    boolean messageTaken() {
        return messageTaken;
    }

    /** Whether a reader call is in progress. */
    boolean inCall() {
        return callStartBytes >= 0;
    }

    /**
     * The runner is about to run the start hooks, {@code bytesRead} bytes read so far. Their reads
     * are no reader call's (what they take is no message: {@link #messageTaken()}), but a wait in
     * them that has consumed nothing is one between requests all the same ({@link #callReadNothing}).
     */
    void beginStartHooks(long bytesRead) {
        hooksStartBytes = bytesRead;
    }

    /** The start hooks have run. */
    void endStartHooks() {
        hooksStartBytes = -1;
    }

    /**
     * Whether a reader call is in progress, or the start hooks run, that has consumed nothing of
     * the {@code bytesRead} read so far: a wait now, with nothing of a value buffered, is one
     * between requests (see {@link ConnectionInput#finish()}).
     */
    boolean callReadNothing(long bytesRead) {
        return bytesRead == (callStartBytes >= 0 ? callStartBytes : hooksStartBytes);
    }

    /**
     * An application's read, on a connection no runner reads, begins with {@code bytesRead} read
     * so far. Such reads make one call that reads many values, as a runner's reader call may: a
     * value begins at the first read, and where a framing reader or {@code readLine} completes a
     * frame ({@link #frameEnded}); reads by other means are in the middle of one after their first
     * (see {@link #readNothing}). Counted from each read's start, {@code readBytes(readInt())}
     * waiting for a body none of which had come was taken for a wait for the next value, and a
     * close on another thread closed at once: the body, coming then, drew a reset.
     */
    void beginApplicationRead(long bytesRead) {
        if (valueStartBytes < 0) {
            valueStartBytes = bytesRead;
        }
    }

    /**
     * Whether the frame under way in the reader call in progress — else the start hooks that run,
     * else (no runner) the application's value under way ({@link #beginApplicationRead}) — has
     * consumed nothing of the {@code bytesRead} read so far: a wait now, with nothing of a value
     * buffered, is for a value none of which is in hand, not for the rest of one (see
     * {@link ConnectionInput#awaiting()}). The frame, not the call: a reader that reads many frames
     * in one call waits for its next between two of them ({@link #frameEnded}); counted from the
     * call's start, every wait after its first frame was taken for one for the rest of a value,
     * and a close on another thread waited for an idle peer's quiet.
     */
    boolean readNothing(long bytesRead) {
        return bytesRead == (callStartBytes >= 0 ? frameStartBytes : hooksStartBytes >= 0 ? hooksStartBytes : valueStartBytes);
    }

    /**
     * The reader waits for its next frame with no thread, for at most the read timeout in force
     * now ({@link #suspendedIdleNanos()}, watched by a {@link ReadIdleWatch}). No clock is read.
     *
     * @return the deadline that must end the suspension — the earlier of the user's read deadline
     *     and the first-frame deadline — 0 for none
     */
    long suspend() {
        SUSPENDED_IDLE.setOpaque(this, readTimeoutNanos);
        return Nanos.earliest(readDeadlineNanos, firstFrameDeadlineNanos);
    }

    /** The read timeout of the last suspension, 0 for none; any thread (the sweeper's). */
    long suspendedIdleNanos() {
        return (long) SUSPENDED_IDLE.getOpaque(this);
    }

    /**
     * The deadline of the next wait: the earliest that applies, 0 for none.
     *
     * @param now {@code nanoTime}, or 0 to read the clock only if some deadline applies
     * @param bytesRead the bytes the reader has consumed so far
     * @param partial part of the next value is buffered, or a layer holds part of a record
     * @throws ReadTimeoutException if it has passed already
     */
    long next(long now, long bytesRead, boolean partial) throws ReadTimeoutException {
        long d = nextOrPassed(now, bytesRead, partial);
        if (d != 0 && Nanos.passed(d, now != 0 ? now : System.nanoTime())) {
            throw timedOut(d);
        }
        return d;
    }

    /**
     * As {@link #next}, but a deadline that has passed is returned, not thrown: for a read from the
     * transport, which reads what has arrived without waiting and times out only if nothing has
     * (every transport reads before it waits), so that a reader past its deadline gets what is in
     * the socket on each transport alike.
     */
    long nextOrPassed(long now, long bytesRead, boolean partial) {
        long user = readDeadlineNanos;
        long idle = readTimeoutNanos;
        long first = firstFrameDeadlineNanos;
        boolean inFrame = frameTimeoutNanos != 0 && frameStartBytes >= 0 && (bytesRead > frameStartBytes || partial);
        if (!inFrame) {
            frameDeadlineNanos = 0; // what looked like part of a frame was none (a TLS record without data)
        }
        if (user == 0 && idle == 0 && first == 0 && !inFrame) {
            return 0;
        }
        if (now == 0) {
            now = System.nanoTime();
        }
        if (inFrame && frameDeadlineNanos == 0) {
            frameDeadlineNanos = Nanos.deadline(now, frameTimeoutNanos);
        }
        long d = Nanos.earliest(user, Nanos.deadline(now, idle));
        d = Nanos.earliest(d, first);
        return Nanos.earliest(d, inFrame ? frameDeadlineNanos : 0);
    }

    /**
     * The exception for the wait that ended at {@code deadline}: which deadline was it? A frame
     * timeout ends the input: the caller hands it to {@link ConnectionInput#endsInput}.
     */
    ReadTimeoutException timedOut(long deadline) {
        if (deadline != 0 && deadline == firstFrameDeadlineNanos) {
            return new FrameTimeoutException("no complete first frame within the first-frame timeout");
        }
        if (deadline != 0 && deadline == frameDeadlineNanos && deadline != readDeadlineNanos) {
            return new FrameTimeoutException("frame not completed within the frame timeout of "
                    + Durations.format(Duration.ofNanos(frameTimeoutNanos)));
        }
        if (deadline != 0 && deadline == readDeadlineNanos) {
            return new ReadTimeoutException("read deadline passed");
        }
        return idleTimeout();
    }

    /** The exception of a wait that outlasted the read timeout. */
    ReadTimeoutException idleTimeout() {
        return new ReadTimeoutException("no data within the read timeout of " + Durations.format(readTimeout()));
    }

    void readTimeout(Duration timeout) {
        readTimeoutNanos = Nanos.timeout(timeout);
    }

    Duration readTimeout() {
        return Duration.ofNanos(readTimeoutNanos);
    }

    void readDeadline(Instant deadline) {
        readDeadlineNanos = deadline == null ? 0 : Nanos.deadlineAt(deadline);
    }
}
