package io.stcp.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.LockSupport;

/**
 * The socket I/O of one connection: the seam between stcp's buffered decoder and the bytes on the
 * wire. Implementations: {@link BlockingTransport} (the JDK's sockets), {@link ReadinessTransport}
 * (non-blocking sockets watched by a native {@link ReadinessSource}); a layer such as TLS or a
 * PROXY-protocol header wraps another transport and is one itself.
 *
 * <p><b>Deadlines.</b> Every method that may wait takes a deadline, a {@link System#nanoTime()}
 * value or 0 for none (see {@link Nanos}), and checks it itself: no wait outlives its deadline,
 * whatever the socket reports.
 *
 * <p><b>Thread safety.</b> Reads ({@link #read}, {@link #isReadable}, {@link #awaitReadable}) come
 * from one thread at a time (the connection's reader); writes and {@link #shutdownOutput()} from
 * one thread at a time (the connection serializes them); {@link #close()}, {@link #isOpen()},
 * {@link #available()} and {@link #stopAwaitingInput()} from any thread.
 */
public interface Transport extends AutoCloseable {

    /**
     * Reads at least one byte into {@code b[off .. off+len)} (len &gt; 0), waiting for it. A layer
     * that took the first bytes of something it cannot serve yet (part of a TLS record) returns 0
     * instead of waiting for the rest: it now {@linkplain #holdsPartialInput holds partial input},
     * which may change the deadline, and the caller reads again under the deadline that applies.
     *
     * @return the number of bytes read, 0 as above (layers only), or -1 at end of stream
     * @throws io.stcp.ReadTimeoutException when the deadline passes first; the transport stays usable
     */
    int read(byte[] b, int off, int len, long deadlineNanos) throws IOException;

    /**
     * Reads and drops the peer's bytes as they come, waiting for at least one: for a graceful
     * close's linger, which waits for the peer's end of stream or quiet, not for its data. A layer
     * that serves whole units (TLS records) drops what it holds and discards below itself, so that
     * each byte the peer sends shows it is still sending, and none is decoded; its reads fail from
     * then on. (Read through the layer, a record trickled over longer than the linger's quiet was
     * taken for a quiet peer, and the close reset it.)
     *
     * @return the number of bytes dropped, 0 (a layer's, as {@link #read}), or -1 at end of stream
     * @throws io.stcp.ReadTimeoutException when the deadline passes first
     */
    default int discard(byte[] sink, long deadlineNanos) throws IOException {
        return read(sink, 0, sink.length, deadlineNanos);
    }

    /**
     * Whether a {@link #read} now might return without waiting. A transport that cannot tell says
     * true (then the read itself waits).
     */
    boolean isReadable();

    /**
     * Whether {@link #isReadable()} can say false: then a reader may give its buffer back and wait
     * for readiness ({@link #awaitReadable}), holding nothing. False for a transport whose read
     * waits inside the read, holding the buffer it reads into (the JDK's sockets).
     */
    default boolean tellsReadiness() {
        return false;
    }

    /**
     * Waits until {@link #isReadable()}, the transport is closed, or the deadline.
     *
     * @throws io.stcp.ReadTimeoutException when the deadline passes first
     */
    void awaitReadable(long deadlineNanos) throws IOException;

    /**
     * Whether input is known to be waiting that the last {@link #read} did not take: it left bytes
     * behind, or more have arrived since. Never waits, and asks the socket (a system call) only
     * when it may hold something: not after a short read, which emptied it, unless a read edge
     * has come since. False when it cannot tell. Reader thread only.
     */
    default boolean inputWaiting() {
        return false;
    }

    /**
     * Asks to be called back instead of waiting: runs {@code action} once, on some other thread,
     * as soon as a read might not wait (input, end of stream, an error, or a close) — so that a
     * connection with nothing to read needs no thread parked in a read. A transport that cannot
     * call back says false, and so does one that might be readable already; then the caller reads
     * (and waits) as usual.
     *
     * @return true if {@code action} will run later, exactly once
     */
    default boolean onReadable(Runnable action) {
        return false;
    }

    /**
     * Lets the threads of other connections that are ready run before this reader reads on: a
     * reader whose peer never pauses would otherwise keep its carrier for as long as input keeps
     * coming, and on one carrier the other connections wait that long. Returns once it is this
     * reader's turn again (on a transport that can tell: or when input comes, if none is waiting,
     * as a read would have waited for it), or when the deadline passes
     * ({@link io.stcp.ReadTimeoutException}). A transport that {@link #holdsInput holds input} of
     * its own returns at once: the caller asks that first. Reader thread only.
     *
     * <p>By default it parks for a microsecond, and the JDK's timer thread wakes it: on the JDK's
     * scheduler that lets the threads woken meanwhile run first (StreamingFairnessTest: eight
     * connections streaming on one carrier served within 5 % of each other). {@code Thread.yield()}
     * does not do: with it, three to five of the eight got nothing for seconds.
     */
    default void giveWay(long deadlineNanos) throws IOException {
        LockSupport.parkNanos(GIVE_WAY_PARK_NANOS);
    }

    /**
     * Whether a read would return input this transport holds itself, without the socket: a layer's
     * decrypted bytes or whole records, bytes of a header read ahead. Such a transport cannot give
     * way now ({@link #giveWay}): the wait would be for the socket. Reader thread only.
     */
    default boolean holdsInput() {
        return false;
    }

    /**
     * Whether this transport holds bytes received that make up nothing it can serve yet: the start
     * of a TLS record whose rest has not come. The peer has begun sending something, so the wait
     * for the rest is bounded as a wait inside a frame is (the frame timeout), and the reader does
     * not suspend meanwhile, as with part of a frame in its own buffer. Reader thread only.
     */
    default boolean holdsPartialInput() {
        return false;
    }

    /**
     * Whether a read took the peer's bytes after a graceful close began ({@link #stopAwaitingInput()})
     * that gave it nothing to return: a layer's (part of a TLS record, records without data), whose
     * read returned 0. The caller counts them as taken, which ends its reading (see
     * {@link ConnectionInput}, "A graceful close"). Reader thread only.
     */
    default boolean tookInputWhileClosing() {
        return false;
    }

    /** How long {@link #giveWay}'s default parks. */
    long GIVE_WAY_PARK_NANOS = 1_000;

    /**
     * Waits, if this transport can tell, until {@code bytes} (&gt; 0) more can be read at once — or
     * until it cannot get there (the receive window is full, the stream ended or failed), or the
     * deadline passes ({@link io.stcp.ReadTimeoutException}). The caller must need all those bytes
     * before it can answer the peer, or the wait could outlast the peer's patience. Transports that
     * cannot tell return at once. Reader thread only.
     */
    default void awaitInput(int bytes, long deadlineNanos) throws IOException {}

    /**
     * A graceful close begins, on any thread: a wait in {@link #awaitInput} ends, now or as it
     * begins, and every later one returns at once, so that the reader reads what has arrived (and,
     * the close having begun, ends its read: see {@link ConnectionInput}, "A graceful close").
     * Called once per close, not per look. Nothing to do for a transport whose
     * {@link #awaitInput} does not wait.
     */
    default void stopAwaitingInput() {}

    /**
     * Writes every remaining byte of {@code srcs[off .. off+len)}, waiting for room as needed.
     *
     * @throws io.stcp.WriteTimeoutException when the deadline passes first; the caller closes the transport
     */
    void write(ByteBuffer[] srcs, int off, int len, long deadlineNanos) throws IOException;

    /**
     * {@link #write(ByteBuffer[], int, int, long)} of buffers stcp allocated itself and holds until
     * this returns (a send queue's batch): no other thread frees their memory meanwhile, so a
     * transport may give their addresses to the kernel without holding their memory's session, as
     * the JDK's channel does for a buffer it cannot vouch for.
     */
    default void writeOwned(ByteBuffer[] srcs, int off, int len, long deadlineNanos) throws IOException {
        write(srcs, off, len, deadlineNanos);
    }

    /**
     * Writes what the socket takes of {@code b[off .. off+len)} at once, straight from the array,
     * without waiting: a write that needs no buffer object. A transport without such a write says
     * -1, and the caller writes the bytes through {@link #write} instead; so does a caller that
     * got fewer than {@code len}, for the rest.
     *
     * @return the bytes written (0 when the socket has no room), or -1 if this transport cannot
     */
    default int writeNow(byte[] b, int off, int len) throws IOException {
        return -1;
    }

    /**
     * Reads what has arrived into {@code b[off .. off+len)}, without waiting: a reader that must do
     * something before it may wait (write replies it owes) asks this first, then waits with
     * {@link #read}. A transport that cannot tell says 0 too.
     *
     * @return the bytes read, 0 when none are there now (or this transport cannot tell), -1 at end
     *     of stream
     */
    default int readNow(byte[] b, int off, int len) throws IOException {
        return 0;
    }

    /**
     * Whether this transport reads the socket straight into direct buffers ({@link
     * #read(ByteBuffer[], int, int, long)}): its bytes are the socket's, with no layer of its own in
     * between. Reader thread only.
     */
    default boolean readsDirect() {
        return false;
    }

    /**
     * As {@link #read(byte[], int, int, long)}, into the remaining bytes of the direct buffers
     * {@code dsts[off .. off+len)} with one scattering call (into the first
     * {@link #MAX_BUFFERS_PER_CALL} of them at most), whose positions move past the bytes read;
     * only where {@link #readsDirect()}.
     */
    default long read(ByteBuffer[] dsts, int off, int len, long deadlineNanos) throws IOException {
        throw new UnsupportedOperationException(name() + " does not read into direct buffers");
    }

    /**
     * As {@link #readNow(byte[], int, int)}, into the remaining bytes of the direct buffers
     * {@code dsts[off .. off+len)}; only where {@link #readsDirect()}.
     */
    default long readNow(ByteBuffer[] dsts, int off, int len) throws IOException {
        throw new UnsupportedOperationException(name() + " does not read into direct buffers");
    }

    /** Ends the output (TCP: sends FIN); reads go on. */
    void shutdownOutput() throws IOException;

    /**
     * As {@link #shutdownOutput()}, for a graceful close that ends at {@code deadlineNanos} (0:
     * none): a layer that has something to send first (TLS's {@code close_notify}) waits for room
     * no longer than that. A FIN never waits.
     */
    default void shutdownOutput(long deadlineNanos) throws IOException {
        shutdownOutput();
    }

    /** Bytes received and not yet read, as far as the transport knows; 0 when closed or unknown. */
    int available();

    /**
     * The bytes that reads will return without more arriving, at least, as far as the transport
     * knows without reading: what the inbound budget may hold room for as sent already
     * ({@code InboundBudget}, "No wait for each other"). By default {@link #available()}; a layer
     * whose reads return other bytes than it receives (TLS) counts only those it has turned into
     * what its reads return, for what it receives may come to fewer, or to none. Reader thread only.
     */
    default int availableToRead() {
        return available();
    }

    /** Whether the transport is open. */
    boolean isOpen();

    /** Closes the transport and wakes any thread waiting in it. Idempotent, any thread, never throws. */
    @Override
    void close();

    /**
     * Gives back the pooled buffers the transport holds for its reads (a TLS layer's), and those
     * of the transports below: the reader is done with them. Called once the reads have ended — on
     * the connection's last reader thread, after its send thread has ended (or by a layer whose
     * opening failed, on that thread) — never by {@link #close()}, which other threads call while
     * a read may still be filling a buffer. Idempotent; a read after it fails rather than take
     * buffers anew, which nothing would give back. By default there are none.
     */
    default void releaseBuffers() {}

    /**
     * The reader is about to wait for room for a put, not for input: the transport keeps, of the
     * buffers it holds for its reads (a TLS layer's), only what holds bytes received and not yet
     * read, in buffers of their size, and those of the transports below do the same; the next read
     * takes full ones again. Only on the way to such a wait ({@code ConnectionInput#parkBuffer}),
     * never per message. By default there are none. Reader thread only.
     */
    default void parkBuffers() {}

    /**
     * Whom a write tells, on the writing thread, before it waits for room in the socket
     * ({@link WriteWaits}): the connection's reader gives its read buffers back then. A layer passes
     * on one of its own, which names the caller's bytes it has not taken in yet. Set once, before
     * the connection is shared. By default nobody is told: a transport whose write waits inside the
     * system call (the JDK's) cannot tell.
     */
    default void onWriteWait(WriteWaits waits) {}

    /** A short name for logs: {@code jdk}, {@code epoll}, ... */
    String name();

    /**
     * The most bytes one write call offers the socket. The JDK copies every heap buffer it is
     * given into a temporary direct buffer, all of it, before the system call; offering megabytes
     * to a socket that takes a fraction would copy the rest again on every retry.
     */
    int MAX_BYTES_PER_WRITE = 256 * 1024;

    /**
     * The most buffers one scattering or gathering call takes: {@code IOV_MAX} on Linux. The JDK's
     * channel passes no more to one system call, so a call given more reads or writes short. Only
     * the epoll transport, Linux's, takes a short read for a drained socket, and offers no more than
     * this; elsewhere a short gathering write just writes again.
     */
    int MAX_BUFFERS_PER_CALL = 1024;

    /**
     * One gathering write of {@code srcs[off .. end)} through {@code channel}, offering at most
     * {@link #MAX_BYTES_PER_WRITE} bytes (the buffer that crosses the cap is offered in part).
     *
     * @return the bytes written, as {@link java.nio.channels.GatheringByteChannel#write} says
     */
    static long writeSome(java.nio.channels.GatheringByteChannel channel, ByteBuffer[] srcs, int off, int end)
            throws IOException {
        long offered = 0;
        int last = off;
        while (last < end) {
            offered += srcs[last].remaining();
            if (offered >= MAX_BYTES_PER_WRITE) {
                break;
            }
            last++;
        }
        if (last == end || offered == MAX_BYTES_PER_WRITE) {
            return write(channel, srcs, off, Math.min(end, last + 1) - off);
        }
        ByteBuffer crossing = srcs[last];
        int limit = crossing.limit();
        crossing.limit(limit - (int) (offered - MAX_BYTES_PER_WRITE));
        try {
            return write(channel, srcs, off, last + 1 - off);
        } finally {
            crossing.limit(limit);
        }
    }

    /** A single buffer goes by a plain write: the JDK's gathering write sets up a vector even for one. */
    private static long write(java.nio.channels.GatheringByteChannel channel, ByteBuffer[] srcs, int off, int count)
            throws IOException {
        return count == 1 ? channel.write(srcs[off]) : channel.write(srcs, off, count);
    }

    /**
     * Moves the positions of {@code srcs[first ..]} past {@code n} bytes written from them, buffer
     * by buffer, as a gathering write does.
     */
    static void consume(ByteBuffer[] srcs, int first, long n) {
        for (int i = first; n > 0; i++) {
            int took = (int) Math.min(n, srcs[i].remaining());
            srcs[i].position(srcs[i].position() + took);
            n -= took;
        }
    }

    /** The bytes left in {@code buffers[off .. off+len)}. */
    static long remaining(ByteBuffer[] buffers, int off, int len) {
        long n = 0;
        for (int i = off; i < off + len; i++) {
            n += buffers[i].remaining();
        }
        return n;
    }

    /** The first buffer of {@code srcs[first .. end)} with bytes left, or {@code end}. */
    static int firstRemaining(ByteBuffer[] srcs, int first, int end) {
        while (first < end && !srcs[first].hasRemaining()) {
            first++;
        }
        return first;
    }
}
