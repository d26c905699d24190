package io.stcp.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * Which thread reads a connection that no runner reads ({@code Connection.of} before, or without,
 * a {@code ConnectionRunner}): the application's threads may read it, one at a time, and a graceful
 * close takes its input for its linger. A served connection has its reader thread instead and never
 * claims (see {@link RealConnection}).
 *
 * <p><b>States</b>, in {@link #owner}:
 * <pre>
 *   FREE ──a read begins (claim)──▶ its thread ──the read returns (release)──▶ FREE
 *   FREE ──a graceful close's linger (takeForClose)──▶ CLOSER, for good
 *   its thread ──the read returns while that close waits──▶ FREE, the close woken ──▶ CLOSER
 *   FREE ──a runner starts (takeForRunner)──▶ RUNNER ──the runner ends (runnerEnded)──▶ FREE
 *   its thread, or CLOSER while the connection is open ──a runner starts──▶ unchanged, the start fails
 * </pre>
 * A runner started while an application read is under way fails to start
 * ({@link IllegalStateException}): its reader thread, which never claims, would read the buffer
 * beside that read. So does one started while the close holds the input (CLOSER) and the
 * connection is still open: its reader's end would read the linger beside the closing thread's
 * (it started, before). Once the connection is closed it starts, as on any closed connection: its
 * reads fail, and it ends. A read that finds RUNNER (its runner starting or just ended) fails as one
 * on a thread not the reader's does.
 * A read that begins while another thread's read is under way fails at once with an
 * {@link IllegalStateException} naming both: the bytes stay the first read's. Before, the two
 * reads shared one buffer unsynchronized and took each other's bytes. A read on the thread that
 * holds the claim (a line read made of smaller reads) goes on under it. Once the close holds it,
 * every read fails as on a closed connection ({@link ClosedChannelException}).
 *
 * <p><b>The close.</b> The linger reads and drops the peer's input so that closing with input
 * unread does not make the kernel reset the connection, destroying replies not yet delivered
 * ({@link ConnectionClose}); with no reader thread, the closing thread does that reading, once it
 * holds the claim. A read under way when it looks takes no more of the peer's bytes: its input
 * ended for it as the close began ({@link ConnectionInput#closing}), so it returns what was
 * buffered, or fails once it takes the peer's bytes, or waits for them. The close waits for it,
 * parked, registered in {@link #closer}, and looks again each time the read releases the claim or
 * begins a wait for input with nothing unread ({@link #wakeCloser()}), or when its look says to
 * ({@link PeerQuiet}): it takes the claim once free; and while the read waits for input that the
 * peer does not send (nothing unread: no reset) — its next value, or the rest of one with nothing
 * come for {@link ConnectionClose#QUIET_NANOS} — it takes nothing and closes now, which ends that
 * read, as a close did before. No wait holds bytes back in the kernel once the close has begun
 * ({@link Transport#stopAwaitingInput()}, see {@link ConnectionClose}): a read that waits with
 * bytes unread is about to take them, which ends it, and frees the claim.
 * Before, one waiting for the rest of a large value ({@link Transport#awaitInput}) went on waiting
 * to the close's deadline (the linger's 2 s), and the close then closed with those bytes unread,
 * resetting the peer.
 * A read blocked for the rest of a value waits for input too, on the JDK transport as on epoll (it
 * was not marked so there, and the close waited out its linger). Each side writes its own volatile
 * field (or word) and then reads the other's — the closer registers and then looks at the claim
 * and the read's wait, the read frees the claim or marks its wait and then looks for a closer — so
 * one of the two sees the other, and no wake-up is lost.
 *
 * <p><b>Cost.</b> One atomic compare-and-exchange and one volatile store per read of a connection no
 * runner reads, and one test of a plain field ({@link ConnectionInput#beginApplicationRead});
 * none on a runner's reader thread, which never claims.
 */
final class ReadClaim {
    private static final VarHandle OWNER = Fields.handle(MethodHandles.lookup(), "owner", Object.class);
    /** The owner once a graceful close took the input: no application read ever again. */
    private static final Object CLOSER = new Object();
    /** The owner while a runner reads: its reader thread reads, without claiming. */
    private static final Object RUNNER = new Object();

    private volatile Object owner;            // null (FREE), the reading Thread, or CLOSER: see the class comment
    private volatile Thread closer;           // a close waiting for the read under way to end, or null

    /**
     * A read of {@code connection} begins on this thread.
     *
     * @return true if it claimed the input, to {@link #release()} when it returns; false if this
     *     thread holds the claim already (a read made of reads)
     * @throws IllegalStateException if another thread is reading
     * @throws ClosedChannelException if a graceful close took the input
     */
    boolean claim(RealConnection connection) throws ClosedChannelException {
        Thread me = Thread.currentThread();
        Object was = OWNER.compareAndExchange(this, null, me);
        if (was == null) {
            return true;
        }
        if (was == me) {
            return false;
        }
        if (was == CLOSER) {
            throw new ClosedChannelException();
        }
        if (was == RUNNER) {
            throw connection.notTheReader();
        }
        throw new IllegalStateException("a read of connection " + connection.id() + " on thread \"" + me.getName()
                + "\" while thread \"" + ((Thread) was).getName() + "\" reads it: a connection is read by one thread"
                + " at a time. Read it on one thread and hand what was read to the others");
    }

    /**
     * A runner starts reading the connection: the input is its reader thread's until
     * {@link #runnerEnded()} (left to a graceful close that took it already).
     *
     * @throws IllegalStateException if an application read is under way, or a graceful close's linger
     *     reads the connection (still open)
     */
    void takeForRunner(RealConnection connection) {
        Object was = OWNER.compareAndExchange(this, null, RUNNER);
        if (was instanceof Thread t) {
            throw new IllegalStateException("a runner started on connection " + connection.id() + " while thread \""
                    + t.getName() + "\" reads it: a connection is read by one thread at a time. Start the runner"
                    + " once that read has returned");
        }
        if (was == CLOSER && connection.isOpen()) {
            throw new IllegalStateException("a runner started on connection " + connection.id() + " while its"
                    + " graceful close reads it, lingering for the peer's end: a connection is read by one thread at a"
                    + " time, and a closing one by its close");
        }
    }

    /** The runner that took the input ({@link #takeForRunner}) has ended. */
    void runnerEnded() {
        if (OWNER.compareAndSet(this, RUNNER, null)) {
            wakeCloser();
        }
    }

    /** The read that claimed the input returns. */
    void release() {
        owner = null;
        wakeCloser();
    }

    /** A close waiting for the read under way, if any, looks again: that read ended, or began a wait for input. */
    void wakeCloser() {
        Thread c = closer;
        if (c != null) {
            LockSupport.unpark(c);
        }
    }

    /**
     * A graceful close takes the input for its linger's reading, for good: at once if no read is under
     * way, else once that read ends (see the class comment).
     *
     * @param closeBy a look at the read under way: 0 if it waits for input that the peer is not
     *     sending, else when to look again at the latest (see {@link PeerQuiet})
     * @return true if taken; false if that read is idle so, the deadline passed, the thread was
     *     interrupted, or this thread is the one reading
     */
    boolean takeForClose(long deadlineNanos, LongSupplier closeBy) {
        Thread me = Thread.currentThread();
        closer = me;
        try {
            while (true) {
                Object was = OWNER.compareAndExchange(this, null, CLOSER);
                if (was == null || was == CLOSER) {
                    return true;
                }
                long lookAgain = was == me ? 0 : closeBy.getAsLong();
                long now = System.nanoTime();
                if (lookAgain == 0 || Nanos.passed(deadlineNanos, now) || me.isInterrupted()) {
                    return false;
                }
                LockSupport.parkNanos(this, Nanos.left(lookAgain, now));
            }
        } finally {
            closer = null;
        }
    }
}
