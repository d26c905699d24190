package io.stcp.internal;

import io.stcp.FrameTimeoutException;
import io.stcp.ReadTimeoutException;
import io.stcp.ReaderStalledException;
import io.stcp.TlsTruncatedException;
import io.stcp.framing.CorruptFrameException;
import io.stcp.framing.FrameTooLongException;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedChannelException;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * The read side of a connection: a buffer over a {@link Transport} with the typed reads of
 * {@link io.stcp.Connection}. Knows nothing of sockets.
 *
 * <p><b>Buffer.</b> Allocated on the first read, {@value #BUFFER_SIZE} bytes. On a transport that
 * can tell readiness ({@code pooled}), an empty buffer goes back to {@link ReadBuffers} before the
 * reader waits, so an idle connection holds none; and a read that fills a small buffer makes the
 * next ones use a wide pooled buffer ({@value ReadBuffers#WIDE} bytes, one turn's worth), or a
 * large one ({@value ReadBuffers#LARGE}) when all wide ones are taken, until reads get small again.
 * Before the reader waits for input or gives way, the bytes left of an unfinished value move to
 * the smallest buffer that holds them (a wide buffer stays only with more than a large one's worth
 * left; few bytes go to a small one). Memory follows the bytes received: see {@link ArrayGrowth}.
 *
 * <p><b>A wait for room.</b> A reader about to wait for room for a put (its queue full, the
 * outbound budget spent: {@link BoundedQueue}, a fan-out's {@link Delivery}) gives its buffer back
 * too ({@link #parkBuffer()}): the bytes left — the start of a pipelining peer's next request —
 * move to an array of their size, and the pooled buffer goes back, as one that waits for input
 * gives it back. Before, such a reader kept its large buffer (64 KiB) for the whole wait, which
 * neither budget counted: 2,000 peers pipelining 40,000-byte frames that never read held 905 of
 * them (56 MiB) and ran a 256 MiB server out of heap. The next fill moves the bytes back into a
 * pooled buffer. Not while replies are lent from the buffer (the drain not paid: its bytes stay
 * where they are; a reader pays its drain, which writes them, before it parks, whichever queue it
 * waits at: {@link OwingReader#readyToWait}), nor a wide buffer: the process has a fixed few, and
 * the one a reader keeps while its put waits bounds how many readers can wait holding a value
 * copied out of one (up to {@value ReadBuffers#WIDE} bytes, not charged to the inbound budget):
 * given back, every reader in turn could. So a reader waiting for room holds, uncounted, its
 * queue's slack, a value of at most a large buffer ({@value ReadBuffers#LARGE} bytes) and the bytes
 * left after it (less than one and a half times a large buffer in all when it reads the value out
 * of an array parked at an earlier wait, kept until no more than half of it is left: see
 * {@link #parkBuffer()}); a fixed few hold a wide buffer instead. The transport's own read buffers
 * go the same way, whatever this buffer does ({@link Transport#parkBuffers()}: a TLS layer's
 * encrypted bytes not yet decrypted and decrypted ones not yet read, in buffers of their size; its
 * next read takes full ones again). Nothing on the path of a put that does not wait, one look at a
 * field per fill.
 * States, reader thread only: pooled buffer → parked (a wait for room; again, smaller, at a later
 * wait when at most half of it is left) → pooled buffer (the next fill, or a wait for the rest of a
 * value: {@link #fitBuffer()}) or none (the connection's end).
 *
 * <p><b>A wait for the peer to read.</b> A write on the reader's thread that waits for room in the
 * socket — the drain it owes, a reply it writes inline, any write of its own — is told so by the
 * transport on the way into that wait ({@link WriteWaits}, {@link #writeWaits}), and the reader
 * gives its buffers back as before a wait for room for a put: the transport's read buffers always
 * (no write refers to them), this one unless bytes of it are yet to be written — replies lent
 * from it among the write's, still queued, or lent and not yet queued (a relay pays the drain
 * before it queues the reply it was lent: {@link #lendingEnded}) — or the write is paid from
 * inside a read that goes
 * on with the buffer as it was (a fill reading into it, the compaction of lent bytes: see
 * {@link #payInRead}); a fill that finds it parked meanwhile unparks it. Before, a reader blocked
 * writing what it owed to a peer that never reads kept its 64 KiB buffer and a TLS layer's 68 KiB
 * of records read ahead for the whole write: 1,000 TLS peers pipelining 40,000-byte frames ran a
 * 256 MiB epoll server out of heap. Nothing on a write that does not wait; a pay sets two fields,
 * a fill looks at one more.
 *
 * <p><b>A value in hand.</b> A large value read ({@code readBytes}, {@code readLine},
 * {@code DelimiterReader}: one whose array held part of the server's {@link InboundBudget}, and a
 * body read straight into the direct pool, {@link #readDirect}) stays charged to the budget while
 * its reader holds it ({@link #hold}): an echo reader waiting in a put for room in its queue held
 * a frame of a MiB that neither budget counted, and peers that never read made the server hold as
 * many such frames as it had connections. The reader gives the value up at its next read of any
 * kind here, when its call returns (a framing reader's, after its handler), a start hook's too, and
 * at the connection's end ({@link #ended()}), whichever comes first ({@link #giveUp()}): so it
 * holds at most one, and none while it reads the next. A value that fails while it fills gives its
 * part back at once. Small values are not charged, and cost each read a look at one field. States,
 * reader thread only: none → held (a large value read) → none (given up).
 *
 * <p><b>Lent bytes.</b> A reply made of the buffer's own bytes ({@link #lendBuffered}) may be
 * queued for the drain the reader owes (see {@link QueueWriter}): the buffer then holds bytes a
 * queued message still refers to, up to {@link #lentEnd}. Before anything would overwrite them or
 * give the buffer away (a refill from its start, a compaction, a return to the pool) the reader
 * pays the drain, which writes them. States, reader thread only: none → lent (a reply queued from
 * the buffer, the drain owed) → none (the drain paid).
 *
 * <p><b>Turns.</b> A reader whose peer never pauses never waits, and would keep its carrier as
 * long as input keeps coming: on one carrier, two of eight such connections got every echo. So
 * after {@value #TURN_BYTES} bytes read without a wait it writes what it owes and gives way
 * ({@link Transport#giveWay}) before it reads on; a wait for input, or a suspension that ended,
 * begins a new turn.
 *
 * <p><b>Deadlines.</b> Every wait for input is bounded by the {@link ReadDeadlines} in force.
 *
 * <p><b>The end.</b> Once the peer's end of stream has been read — or its TCP end without TLS's
 * {@code close_notify} ({@link TlsTruncatedException}), or a timeout ended the input
 * ({@link #endsInput}) — the input is over: every later read finds the end at once, with no wait,
 * buffer or system call, and the reader's call ends the connection when it returns, however it
 * returns ({@link #endCall()}): a reader that swallows the {@link EOFException} ends it as one
 * that threw it would have. A reader that catches it and reads on in the same call is stopped:
 * after {@value #READS_PAST_END} more reads at the end, the next read throws a
 * {@link ReaderStalledException}, which ends the connection (PROTOCOL_ERROR), and each later one
 * an {@link UncheckedIOException} of it, which a reader that swallows every {@link IOException}
 * does not catch. Reads that fail once the connection has ended for the reader ({@link #ended}:
 * a graceful close, a read that failed other than by a timeout — a close, a reset — or a
 * shutdown's refusal) are counted the same way: each fails at once, with no system call, and the
 * guard stops a reader that catches the failures and reads on; the connection ends with the
 * reason its end recorded. Only failing reads count: a read that succeeds pays nothing for it.
 *
 * <p><b>Waits and a graceful shutdown.</b> {@link #waitState} tells other threads how the reader
 * waits, and lets a graceful shutdown (a server's, or a client's) finish the request in progress
 * but begin none. Bits:
 * <ul>
 *   <li>AWAITING: blocked in the transport for input (a give-way too, which on a transport that
 *       tells readiness waits for input when none is there), or the loop suspended for want of it
 *       ({@link #isAwaitingInput()}); set and cleared by the reader thread around each wait. Not
 *       around a linger's reads ({@link #discardUntilEnd}): those take the peer's bytes and time
 *       its quiet themselves;</li>
 *   <li>AT_REST: with AWAITING, that wait is between requests — the loop's suspension between
 *       calls, or a wait inside a reader call, or in the start hooks (a client's login waiting
 *       for its answer), that has consumed nothing, with nothing of a value buffered and no part
 *       of a record held by a layer;</li>
 *   <li>MID_VALUE: with AWAITING, that wait is for the rest of a value: part of it buffered, or
 *       part of a record held by a layer, or the reader call's frame under way (a framing reader's
 *       call begins one at each frame's end), the start hooks or (no runner) the application's
 *       value under way has consumed some of its bytes — the peer is in the middle of sending
 *       ({@link #awaiting()}, for a graceful close on another thread). Neither bit: a wait for a
 *       value with none of it in hand that is not between requests — a framing reader's between
 *       two frames of one call, an application's read ({@code Connection.of}) at its first value
 *       or after a frame a framing reader completed ({@link #beginApplicationRead()});</li>
 *   <li>RAW: the reader thread called {@code channel()} in the current call (cleared when it
 *       returns): it may read around this input, so whether it rests cannot be seen; the shutdown
 *       takes it as resting, as it took every connection before it could tell;</li>
 *   <li>FINISHING: set once, by the shutdown ({@link #finish()}), never cleared;</li>
 *   <li>CLOSING: set once, by a graceful close as it begins ({@link #closing()}), never cleared:
 *       see below.</li>
 * </ul>
 * Both sides change the word with one atomic read-modify-write each and look at what was there:
 * the shutdown finds the reader AT_REST — it needs no waiting for: shut it down at once — or not,
 * and then the reader, at its next wait between requests or at the end of its call
 * ({@link #isFinishing()}, read by the loop), finds FINISHING and begins no request: the wait
 * throws {@link AsynchronousCloseException} instead of waiting. A wait between requests that
 * ends finding FINISHING set meanwhile throws it too, rather than hand the reader a request the
 * shutdown did not wait for. So a request is either in progress when the shutdown looks, and let
 * finish, or never begun.
 *
 * <p><b>A graceful close</b> ({@link ConnectionClose#closeGracefully}, on any thread) ends the
 * input for the reader as it begins ({@link #closing()}): the peer's bytes are no longer the
 * application's. The first read that takes bytes from the transport after that drops them, and
 * whatever is buffered, and throws {@link AsynchronousCloseException}, as a read that a close cut
 * short; every later read throws {@link ClosedChannelException} at once, as after the end
 * ({@link #ended}). Only what the reader had read into its buffer before the close began is still
 * read, at most one buffer; none when the reader thread itself closes: its reads fail at once. The
 * loop begins no reader call meanwhile ({@link #beginsNoCall()}), and at its end the reader thread
 * reads and drops the peer's input for the close's linger, at most
 * {@link ConnectionClose#LINGER_BYTES} ({@link ConnectionClose#awaitGracefulClose()}); with no
 * reader thread (no runner), the closing thread does, once the application's read under way, if
 * any, has ended ({@link ReadClaim}), or, waiting for input the peer does not send, is ended by the
 * close: a wait that such a read begins after the close began tells it
 * ({@link EndOfStream#waitsWhileClosing()}). Before, a close on another thread left the reader
 * reading the peer's input, parsed by the application, to the end of the linger, however much
 * came; and with no runner nobody read it: the close reset the connection, destroying replies not
 * yet delivered. The cost: one opaque load of {@link #waitState} per transport read that returned
 * bytes, or none without waiting (a layer may have taken bytes that made no data yet: part of a
 * TLS record, records without data, {@link Transport#tookInputWhileClosing()}), none per value
 * read from the buffer, and a look at a bit that each wait fetches already.
 * A close on another thread tells a wait for the rest of a value (MID_VALUE) from one for the next
 * value, and waits for the peer's quiet only for the first ({@link PeerQuiet}); that costs each
 * wait what it computed for AT_REST already, and each application read with no runner one test
 * of a plain field ({@link #beginApplicationRead()}).
 *
 * <p><b>Threads.</b> Reads belong to the reader thread — with no runner, to the application's
 * thread that holds the connection's {@link ReadClaim} for its read, and then, for good, to the
 * graceful close's linger; the timeouts and the read deadline may be set from any thread (they
 * apply from the next wait on); {@link #isAwaitingInput()}, {@link #isFinishing()},
 * {@link #beginsNoCall()}, {@link #finish()} and {@link #closing()}, any thread.
 */
final class ConnectionInput {
    static final int BUFFER_SIZE = ReadBuffers.SIZE;
    /** The first size of an array that grows as its bytes arrive. */
    static final int MIN_GROWING = 256;
    /**
     * The bytes a reader reads without a wait before it gives way (see the class comment). With
     * 16 KiB frames, 100 connections × 16 in flight on one core, a turn of 1 MiB still left
     * connections served from 3,358 to 7,687 times each in 6 s, one of 256 KiB 5,042 to 5,328 (Netty
     * 4,848 to 4,896): BENCHMARKS.md, "Readers whose peers never pause give way".
     */
    static final int TURN_BYTES = 256 * 1024;
    /** Reads a reader may make, in the call that read the end of the input, before they throw (see the class comment). */
    static final int READS_PAST_END = 1000;
    /** What {@link #awaitTransport} waits for in a give-way ({@link Transport#giveWay}), instead of a number of bytes. */
    private static final int GIVE_WAY = -1;
    private static final byte[] NO_PREFIX = {};
    // Each get is cast where it is called: a cast around "bigEndian ? A.get(..) : B.get(..)" leaves
    // both calls typed Object, which boxed every value read (ReadNumbersTest).
    private static final VarHandle SHORT_BE = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle SHORT_LE = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT_BE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle INT_LE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG_BE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle LONG_LE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle WAIT_STATE = Fields.handle(MethodHandles.lookup(), "waitState", int.class);
    private static final VarHandle BYTES_READ = Fields.handle(MethodHandles.lookup(), "bytesRead", long.class);
    private static final int AWAITING = 1;
    private static final int AT_REST = 2;
    private static final int FINISHING = 4;
    private static final int RAW = 8;
    private static final int CLOSING = 16;
    private static final int MID_VALUE = 32;

    private Transport transport; // replaced by the layers, on the reader thread, before the first read
    private final boolean pooled;
    private final InboundBudget budget; // null: no budget
    private final EndOfStream onEndOfStream;

    // Reader thread only.
    private byte[] buf;
    private boolean wide; // the peer sends more than a small buffer holds: read into a large one (pooled only)
    private int pos;
    private int lim;
    private long bytesRead; // written by the reader thread only (consumed), opaque; read by others for stats
    private volatile boolean endOfStream; // written by the reader thread, read by a closing one
    private final ReadDeadlines deadlines;
    private long channelUses;             // calls of Connection.channel(); written by any thread, only compared
    private volatile int waitState;       // AWAITING | AT_REST | MID_VALUE | FINISHING | RAW | CLOSING: see the class comment
    private QueueWriter owedDrain; // the reader owes it a write before it waits (see QueueWriter); reader thread only
    private QueueWriter paying; // the drain being paid (payOwedDrain), null if none; reader thread only
    private boolean payInRead; // that pay is one of a read here, which goes on with buf: its write's wait keeps buf; reader thread only
    private int lentEnd; // buf[0 .. lentEnd) may hold bytes of replies queued for the owed drain; reader thread only
    private boolean lending; // a reply lendBuffered made is still its caller's, not yet written, queued or copied; reader thread only
    private long turnBytes; // read since this reader last waited for input or gave way; reader thread only
    private boolean idleTimedOut; // the read timeout ended the suspension: the next wait throws; reader thread only
    private boolean inputOver; // the end of stream was read, or a timeout ended the input: see the class comment; reader thread only
    private ReadTimeoutException endedBy; // the timeout that ended the input for the reader (endsInput); reader thread only
    private TlsTruncatedException truncated; // the end of stream without close_notify, if that ended the input; reader thread only
    private int readsPastEnd; // reads that found the input over, or failed after the end; reader thread only
    private ReaderStalledException pastEnd; // thrown once there were too many of them; reader thread only
    private boolean ended; // the connection has ended (ended()), or a read found it closing or failed: a read fails, taking no buffer; reader thread only
    private @Nullable ArrayGrowth inHand; // the large value the reader holds, charged until given up (see the class comment); reader thread only
    private boolean tookWhileClosing; // the peer's bytes, taken after a graceful close began, ended the reading (taken); reader thread, then the close's
    private boolean parked; // buf is an array of the bytes left, made as the reader waited for room for a put (parkBuffer); reader thread only

    /**
     * @param pooled give the buffer back to the pool while waiting (the transport can tell readiness)
     * @param budget the server's inbound budget, or null
     * @param firstFrameTimeoutNanos 0 = none
     * @param frameTimeoutNanos 0 = none
     * @param onEndOfStream told when the peer's end of stream is read, or a timeout ends the input
     */
    ConnectionInput(Transport transport, boolean pooled, InboundBudget budget, long firstFrameTimeoutNanos,
                    long frameTimeoutNanos, EndOfStream onEndOfStream) {
        this.transport = transport;
        this.pooled = pooled;
        this.budget = budget;
        this.onEndOfStream = onEndOfStream;
        this.deadlines = new ReadDeadlines(firstFrameTimeoutNanos, frameTimeoutNanos);
    }

    /** Told how the input ends (the connection's close state is one). */
    @FunctionalInterface
    interface EndOfStream {
        /** The peer's end of stream was read. */
        void inputEnded();

        /**
         * A timeout ended the input for the reader ({@link #endsInput}): the connection ends with
         * it, whatever the reader throws next. Nothing by default (an input of no connection).
         */
        default void inputTimedOut(ReadTimeoutException e) {}

        /**
         * A read from the transport failed for good (a reset, a close): the connection ends with
         * it unless its end was recorded already, whatever the reader throws next. Nothing by default.
         */
        default void inputFailed(IOException e) {}

        /**
         * A read began a wait for input after a graceful close began ({@link #closing}), its bit
         * set in {@link #waitState} first, with nothing unread (a read with bytes unread takes them,
         * which ends its reading): a close waiting for that read to end looks again —
         * with no reader thread to linger for it ({@link ReadClaim}), or lingering for a runner's
         * reader that it saw between two waits. Nothing by default.
         */
        default void waitsWhileClosing() {}
    }

    // ---------------------------------------------------------------- reads

    int read(byte[] b, int off, int len) throws IOException {
        giveUp();
        Objects.checkFromIndexSize(off, len, b.length);
        if (len == 0) {
            return 0;
        }
        int buffered = lim - pos;
        if (buffered == 0) {
            if (len >= BUFFER_SIZE) {
                if (pooled && !transport.isReadable()) {
                    releaseBuffer(); // the read below waits: without holding a buffer, as fill() does
                }
                int n = readTransport(b, off, len, null, false);
                if (n > 0) {
                    consumed(n);
                }
                return n;
            }
            if (fill() < 0) {
                return -1;
            }
            buffered = lim - pos;
        }
        int n = Math.min(buffered, len);
        System.arraycopy(buf, pos, b, off, n);
        advance(n);
        return n;
    }

    int readUntil(byte delimiter, byte[] b, int off, int len) throws IOException {
        giveUp();
        Objects.checkFromIndexSize(off, len, b.length);
        if (len == 0) {
            return 0;
        }
        if (pos == lim && fill() < 0) {
            return -1;
        }
        int end = pos + Math.min(lim - pos, len);
        int i = pos;
        while (i < end && buf[i] != delimiter) {
            i++;
        }
        int n = (i < end ? i + 1 : end) - pos;
        System.arraycopy(buf, pos, b, off, n);
        advance(n);
        return n;
    }

    void readFully(byte[] b, int off, int len) throws IOException {
        giveUp();
        Objects.checkFromIndexSize(off, len, b.length);
        int done = 0;
        while (done < len) {
            int n = read(b, off + done, len - done);
            if (n < 0) {
                throw new EOFException("end of stream after " + done + " of " + len + " bytes");
            }
            done += n;
        }
    }

    /**
     * Reads {@code n} bytes into a new array: at once when they are buffered or {@code n} is
     * small; otherwise once some have arrived, into an array that grows as the rest arrives
     * ({@link GrowingRead}).
     */
    byte[] readBytes(int n) throws IOException {
        return readBytes(NO_PREFIX, n);
    }

    /** As {@link #readBytes(int)}, into an array that starts with a copy of {@code prefix}. */
    byte[] readBytes(byte[] prefix, int n) throws IOException {
        giveUp();
        // n is most often a length the peer sent: a wrong one is the peer's fault (PROTOCOL_ERROR).
        if (n < 0) {
            throw new CorruptFrameException("a length of " + n + " bytes (expected: >= 0)");
        }
        if (n > DelimitedRead.MAX_ARRAY - prefix.length) {
            throw new FrameTooLongException("a prefix of " + prefix.length + " bytes and " + n
                    + " more exceed the largest array (" + DelimitedRead.MAX_ARRAY + " bytes)");
        }
        if (n > MIN_GROWING && pos == lim && fill() < 0) { // wait for the first bytes before allocating anything
            throw new EOFException("end of stream after 0 of " + n + " bytes");
        }
        if (n > 0 && n <= lim - pos) {
            return copyBuffered(prefix, n);
        }
        if (n <= MIN_GROWING) {
            byte[] b = Arrays.copyOf(prefix, prefix.length + n);
            readFully(b, prefix.length, n);
            return b;
        }
        return GrowingRead.read(this, prefix, n);
    }

    /**
     * A new array of {@code prefix} and the next {@code n} buffered bytes. The array is filled by
     * copies that follow its allocation directly, which lets the JIT leave out zeroing it first: a
     * pass over the whole array less (for a 16 KiB value about as much as the copy itself).
     */
    private byte[] copyBuffered(byte[] prefix, int n) {
        int p = prefix.length;
        byte[] b = new byte[p + n];
        System.arraycopy(buf, pos, b, p, n);
        System.arraycopy(prefix, 0, b, 0, p);
        advance(n);
        return b;
    }

    /**
     * A reply of {@code header} and the next {@code n} buffered bytes, made in the read buffer
     * itself: the header is written over the bytes consumed just before them, and the input moves
     * past the {@code n} bytes. The buffer returned, a heap buffer over that region, stays valid
     * until the next read that has to refill or give away the buffer; one queued for the owed drain
     * is declared with {@link #lent}, and the caller says when it is done with it
     * ({@link #lendingEnded}). Null, with nothing changed, when not all {@code n} are buffered
     * or fewer than {@code header.length} consumed bytes precede them (after those already lent).
     */
    @Nullable ByteBuffer lendBuffered(byte[] header, int n) {
        giveUp();
        int start = pos - header.length;
        if (buf == null || n < 0 || n > lim - pos || start < lentEnd) {
            return null;
        }
        System.arraycopy(header, 0, buf, start, header.length);
        advance(n);
        lending = true;
        return ByteBuffer.wrap(buf, start, header.length + n);
    }

    /**
     * The caller of {@link #lendBuffered} is done with the reply: written, queued ({@link #lent})
     * or copied. Until then a write's wait keeps the buffer ({@link #writeWaits}): paying the drain
     * owed before the reply is queued may wait for room.
     */
    void lendingEnded() {
        lending = false;
    }

    /**
     * A reply from {@link #lendBuffered} was queued for the drain this reader owes: its bytes stay
     * in place until the drain is paid.
     */
    void lent(ByteBuffer reply) {
        if (reply.array() != buf || owedDrain == null) {
            throw new IllegalStateException("a lent reply must be of this buffer and queued for the owed drain");
        }
        lentEnd = Math.max(lentEnd, reply.limit());
    }

    /**
     * {@code header} and the next {@code n} bytes in chunks of {@code pool}: those buffered, then
     * the rest straight from the socket once it has all arrived (a rest larger than a read buffer
     * waited for as {@link #readBytes} waits for it: in the kernel; a smaller one only if it is
     * there already, since a peer still sending it must not run into the read timeout of one long
     * wait), or null, with nothing read, when the transport cannot read into direct memory, the
     * value is shorter than a chunk, the rest has not all arrived (the receive window was full, or
     * it is still coming) or the pool has no room. A large body relayed this way is never an array:
     * at 1 MiB, clearing the array before the socket filled it was a fifth of the server's CPU
     * (BENCHMARKS.md, "Large relayed bodies read into the direct pool"). While the rest is read,
     * its bytes are reserved from the inbound budget as an array's would be (bytes already
     * buffered need none), and stay reserved once read until the reader gives them up (see the
     * class comment, "A value in hand"): the relay does once its put has returned.
     */
    @Nullable DirectMessage readDirect(DirectChunks pool, byte[] header, int n) throws IOException {
        giveUp();
        if (!transport.readsDirect() || !DirectChunks.worthCopying(header.length + (long) n)) {
            return null;
        }
        int rest = n - buffered();
        if (rest <= 0) {
            return DirectMessage.read(pool, header, this, n);
        }
        ArrayGrowth reservation = new ArrayGrowth(this);
        reservation.requireFits(header.length + (long) n); // before the wait, as readBytes does
        if (rest > ReadBuffers.LARGE) {
            awaitInput(rest);
        }
        if (transport.available() < rest) {
            return null;
        }
        DirectMessage message = null;
        try {
            reservation.reserve(header.length + n, true);
            message = DirectMessage.read(pool, header, this, n);
            return message;
        } finally {
            reservation.readEnded(message != null, header.length + n); // charged until the relay's put returns
        }
    }

    /**
     * Fills the direct buffers {@code dsts[off ..)} (their remaining bytes): with the bytes buffered
     * first, then straight from the socket, by scattering reads, waiting for them as {@link #read}
     * does. Only where the transport {@linkplain Transport#readsDirect() reads into direct buffers}.
     */
    void readFully(ByteBuffer[] dsts, int off) throws IOException {
        int first = off;
        while (true) {
            first = Transport.firstRemaining(dsts, first, dsts.length);
            if (first == dsts.length) {
                return;
            }
            if (pos < lim) {
                takeBuffered(dsts[first], Math.min(lim - pos, dsts[first].remaining()));
                continue;
            }
            int n = readTransport(null, first, dsts.length - first, dsts, false);
            if (n < 0) {
                throw new EOFException("end of stream before the last "
                        + Transport.remaining(dsts, first, dsts.length - first) + " bytes of a value");
            }
            consumed(n);
        }
    }

    /** Moves the next {@code n} bytes, all buffered (at most {@link #buffered()}), into {@code dst}. */
    void takeBuffered(ByteBuffer dst, int n) {
        giveUp();
        Objects.checkIndex(n, lim - pos + 1);
        dst.put(buf, pos, n);
        advance(n);
    }

    int readUnsignedByte() throws IOException {
        giveUp();
        ensure(1);
        consumed(1);
        return buf[pos++] & 0xFF;
    }

    short readShort(boolean bigEndian) throws IOException {
        giveUp();
        ensure(2);
        short v = bigEndian ? (short) SHORT_BE.get(buf, pos) : (short) SHORT_LE.get(buf, pos);
        advance(2);
        return v;
    }

    int readInt(boolean bigEndian) throws IOException {
        giveUp();
        ensure(4);
        int v = bigEndian ? (int) INT_BE.get(buf, pos) : (int) INT_LE.get(buf, pos);
        advance(4);
        return v;
    }

    long readLong(boolean bigEndian) throws IOException {
        giveUp();
        ensure(8);
        long v = bigEndian ? (long) LONG_BE.get(buf, pos) : (long) LONG_LE.get(buf, pos);
        advance(8);
        return v;
    }

    /** The server's inbound budget, or null. */
    InboundBudget budget() {
        return budget;
    }

    /** The reader holds {@code value}, read, charged to the budget until it gives it up (see the class comment). */
    void hold(ArrayGrowth value) {
        inHand = value;
    }

    /**
     * The reader gives up the large value it holds, if any: its part of the budget is given back
     * (see the class comment). At every read, so one look at a field when it holds none.
     */
    void giveUp() {
        ArrayGrowth value = inHand;
        if (value != null) {
            value.release(); // first: if it fails (a full heap), the connection's end gives it up again
            inHand = null;
        }
    }

    /** Whether the transport is open: false once the connection has closed. Reader thread. */
    boolean isOpen() {
        return transport.isOpen();
    }

    /** The size of the read buffer held now, 0 for none; for tests. */
    int bufferCapacity() {
        return buf == null ? 0 : buf.length;
    }

    int buffered() {
        return lim - pos;
    }

    /**
     * The index among the buffered bytes {@code [from, to)} (as many of them as are buffered) of
     * the first {@code b}, or -1; the bytes stay buffered.
     */
    int bufferedIndexOf(byte b, int from, int to) {
        for (int i = pos + from, end = pos + Math.min(to, lim - pos); i < end; i++) {
            if (buf[i] == b) {
                return i - pos;
            }
        }
        return -1;
    }

    /**
     * Moves the next {@code n} bytes, all buffered, into {@code b[off ..)}, or past them when
     * {@code b} is null; never waits.
     */
    void takeBuffered(byte @Nullable [] b, int off, int n) {
        Objects.checkIndex(n, lim - pos + 1);
        if (b != null) {
            System.arraycopy(buf, pos, b, off, n);
        }
        advance(n);
    }

    /** The buffered byte at {@code index} (less than {@link #buffered()}); it stays buffered. */
    byte bufferedByte(int index) {
        return buf[pos + Objects.checkIndex(index, lim - pos)];
    }

    /**
     * Waits, where the transport can tell, until {@code bytes} more can be read at once (see
     * {@link Transport#awaitInput}), within the read deadline in force; as in {@link #fill()}, a
     * few bytes buffered wait in a small buffer, and none in no buffer.
     */
    void awaitInput(int bytes) throws IOException {
        if (pooled) {
            if (pos < lim) {
                fitBuffer();
            } else {
                releaseBuffer();
            }
        }
        awaitTransport(bytes);
    }

    /** Whether bytes are buffered or known to wait in the transport; see {@link Transport#inputWaiting()}. */
    boolean inputWaiting() {
        return pos < lim || transport.inputWaiting();
    }

    /** Bytes the transport holds beyond those buffered (a system call on a socket). */
    int socketAvailable() {
        return transport.available();
    }

    /**
     * Bytes that reads will return beyond those buffered, at least, without more arriving
     * ({@link Transport#availableToRead()}: over TLS, only those decrypted); the reader thread.
     */
    int availableToRead() {
        return transport.availableToRead();
    }

    /** Bytes consumed so far; any thread (a monitoring read from another may be a moment behind). */
    long bytesRead() {
        return (long) BYTES_READ.getOpaque(this);
    }

    /**
     * A measure of the reader's progress, for the stall detector: bytes consumed here, plus the
     * calls of {@code channel()} — stcp cannot see what a reader consumes through the raw channel,
     * so such a call counts as progress.
     */
    long progress() {
        return bytesRead() + channelUses;
    }

    /** {@code Connection.channel()} was called; {@code byReader}: on the reader thread. */
    void channelUsed(boolean byReader) {
        channelUses++;
        if (byReader && deadlines.inCall() && (waitState & RAW) == 0) {
            WAIT_STATE.getAndBitwiseOr(this, RAW); // see the class comment
        }
    }

    /** Whether the peer's end of stream has been read. */
    boolean isEndOfStream() {
        return endOfStream;
    }

    /** Whether the reader is blocked in the transport waiting for input, or its loop suspended for want of it. */
    boolean isAwaitingInput() {
        return (waitState & AWAITING) != 0;
    }

    /** What the reader waits for, to a graceful close on another thread ({@link #awaiting()}). */
    enum Awaiting {
        /** No input: the reader is busy, between two waits, reading for a linger, or over. */
        NOTHING,
        /** The next value, none of it in hand: the peer may be idle. */
        NEXT,
        /** The rest of a value (of a request): the peer is in the middle of sending it. */
        REST
    }

    /** What the reader waits for now, in one look at {@link #waitState} (see the class comment). Any thread. */
    Awaiting awaiting() {
        int s = waitState;
        return (s & AWAITING) == 0 ? Awaiting.NOTHING : (s & MID_VALUE) != 0 ? Awaiting.REST : Awaiting.NEXT;
    }

    /**
     * Whether the peer's bytes came after a graceful close began, and the reader took them, which
     * ended its reading: the peer was sending then. For the close, once it holds the input (see
     * {@link PeerQuiet}).
     */
    boolean tookInputWhileClosing() {
        return tookWhileClosing;
    }

    /**
     * A graceful shutdown, a server's or a client's: from now on the reader begins no request (see
     * the class comment). Any thread; once is enough, more calls are harmless.
     *
     * @return true if the reader rests now — waits between requests, blocked or suspended (or its
     *     call uses the raw channel: RAW) — so the connection can be shut down at once; false if a
     *     request may be in progress (or the loop is between calls, or over), which the reader
     *     then finishes before it stops
     */
    boolean finish() {
        return ((int) WAIT_STATE.getAndBitwiseOr(this, FINISHING) & (AT_REST | RAW)) != 0;
    }

    /** Whether {@link #finish()} was called. Any thread. */
    boolean isFinishing() {
        return (waitState & FINISHING) != 0;
    }

    /**
     * A graceful close begins: from now on the reader takes no more of the peer's input (see the
     * class comment). Any thread; once is enough, more calls are harmless.
     *
     * @param byReader called on the reader thread: its reads end at once, as if one had found the close
     */
    void closing(boolean byReader) {
        WAIT_STATE.getAndBitwiseOr(this, CLOSING);
        if (byReader) {
            endForReader();
        }
    }

    /** Whether the loop begins no reader call: a graceful shutdown ({@link #finish()}) or close ({@link #closing()}) began. Any thread. */
    boolean beginsNoCall() {
        return (waitState & (FINISHING | CLOSING)) != 0;
    }

    /**
     * The reader is about to wait for input with nothing buffered, or with part of a value
     * ({@code partial}); see the class comment.
     *
     * @return the bits to hand to {@link #endWait}
     * @throws AsynchronousCloseException if the wait is between requests and the connection shuts down
     */
    private int beginWait(boolean partial) throws AsynchronousCloseException {
        int bits = partial || !deadlines.readNothing(bytesRead) || transport.holdsPartialInput() ? AWAITING | MID_VALUE
                : deadlines.callReadNothing(bytesRead) ? AWAITING | AT_REST : AWAITING;
        int before = (int) WAIT_STATE.getAndBitwiseOr(this, bits);
        if ((before & CLOSING) != 0 && !transport.holdsInput() && transport.available() == 0) {
            // A wait for input the peer has not sent: a close waiting for this read to end looks
            // again. With bytes unread the read takes them, which ends its reading, and its end reads
            // the rest for the close; told then, the close looked as the bytes went, saw a read
            // awaiting input with nothing unread, and took a peer still sending for an idle one.
            onEndOfStream.waitsWhileClosing();
        }
        if ((bits & AT_REST) != 0 && (before & FINISHING) != 0) {
            WAIT_STATE.getAndBitwiseAnd(this, ~(AWAITING | AT_REST));
            throw refused(); // the connection shuts down: no new request
        }
        return bits;
    }

    /**
     * The wait begun with {@code bits} ended.
     *
     * @return true if it was between requests and the shutdown began meanwhile: the
     *     reader must not go on into a request (the caller throws)
     */
    private boolean endWait(int bits) {
        int before = (int) WAIT_STATE.getAndBitwiseAnd(this, ~(AWAITING | AT_REST | MID_VALUE));
        return (bits & AT_REST) != 0 && (before & FINISHING) != 0;
    }

    /**
     * Reads and drops everything until end of stream or {@code deadlineNanos}; for lingering while
     * the connection closes. With {@code quietNanos} &gt; 0 it also stops once nothing has arrived
     * for that long and {@code quietEnds} then says so (a peer that is not sending needs no waiting
     * for, once the close has nothing else to wait for); else it reads on, quiet again from there. It
     * stops too once it has dropped {@code maxBytes} read from the transport (bytes buffered before
     * it are dropped uncounted): a peer that keeps sending would otherwise keep this thread reading
     * until the deadline. Never throws: a timeout, reset or close ends it too.
     *
     * @return true if it stopped at {@code maxBytes}, the peer still sending
     */
    boolean discardUntilEnd(long deadlineNanos, long quietNanos, BooleanSupplier quietEnds, long maxBytes) {
        payOwedDrainInRead(); // this waits: a close elsewhere may be waiting for the write token it holds
        pos = lim = 0;
        byte[] sink = buf != null ? buf : new byte[BUFFER_SIZE];
        long dropped = 0;
        try {
            while (!endOfStream) {
                long now = System.nanoTime();
                if (Nanos.passed(deadlineNanos, now)) {
                    return false;
                }
                long until = quietNanos == 0 ? deadlineNanos : Nanos.earliest(deadlineNanos, Nanos.deadline(now, quietNanos));
                int n;
                // Not marked as awaiting input: nothing unread between two of a peer's writes is not
                // an idle peer, which only its quiet tells, here (a close on another thread that took
                // it for one closed at once, and the peer's next write drew a reset).
                try {
                    n = transport.discard(sink, until); // below a TLS layer: each of the peer's bytes, not each whole record, is its sending
                } catch (ReadTimeoutException quiet) {
                    if (quietEnds.getAsBoolean()) {
                        return false;
                    }
                    continue; // the deadline, if that was it, ends the loop
                }
                if (n < 0) {
                    endOfStream();
                } else if ((dropped += n) >= maxBytes) {
                    return true;
                }
            }
        } catch (IOException | RuntimeException e) {
            // timed out, reset or closed: nothing more to wait for
        }
        return false;
    }

    private void endOfStream() {
        inputOver = true;
        endOfStream = true;
        onEndOfStream.inputEnded();
    }

    // ---------------------------------------------------------------- calls and deadlines

    /** The transport the layers opened; see {@link RealConnection#openLayers()}. */
    void transport(Transport t) {
        transport = t;
    }

    /** The deadlines every wait for input is bounded by. */
    ReadDeadlines deadlines() {
        return deadlines;
    }

    /** The runner is about to call the reader. */
    void beginCall() {
        deadlines.beginCall(bytesRead);
    }

    /**
     * The runner is about to run the start hooks: until {@link #endStartHooks()}, a wait in them
     * that has consumed nothing, with nothing of a value buffered, rests, as a reader call's does
     * (see the class comment, and {@link ReadDeadlines#beginStartHooks}).
     */
    void beginStartHooks() {
        deadlines.beginStartHooks(bytesRead);
    }

    /** The start hooks have run. */
    void endStartHooks() {
        deadlines.endStartHooks();
    }

    /**
     * An application's read begins on a connection no runner reads ({@code Connection.of}): a wait
     * in it for input, once the value under way has consumed some — counted from the first read,
     * or from the frame a framing reader last completed ({@link ReadDeadlines#beginApplicationRead})
     * — is for the rest of a value (see the class comment, MID_VALUE). One test of a plain field per
     * such read; a runner's reader thread pays nothing.
     */
    void beginApplicationRead() {
        deadlines.beginApplicationRead(bytesRead);
    }

    /** A framing reader completed a frame in the current call: see {@link ReadDeadlines#frameEnded}. */
    void frameEnded() {
        deadlines.frameEnded(bytesRead);
    }

    /**
     * The reader's call returned. One that returns with the input over ends the connection (see the
     * class comment): there is nothing more to read, and calling it again would only spin.
     *
     * @throws ReadTimeoutException if the call caught a frame timeout, or a read timeout that cut a
     *     framing reader's frame: the connection ends with it all the same
     * @throws ReaderStalledException if the call read on past the end of the input too many times
     * @throws EOFException if the call read the peer's end of stream and returned normally: the
     *     connection ends as the peer closed it (PEER_CLOSED), as if the reader had thrown it; or
     *     the {@link TlsTruncatedException} that ended it (PEER_RESET)
     */
    void endCall() throws IOException {
        if (inputOver) {
            if (endedBy != null) {
                throw endedBy;
            }
            if (pastEnd != null) {
                throw pastEnd;
            }
            throw truncated != null ? truncated : new EOFException("the reader returned after the end of stream");
        }
        deadlines.endCall(bytesRead);
        idleTimedOut = false;
        if ((waitState & RAW) != 0) {
            WAIT_STATE.getAndBitwiseAnd(this, ~RAW);
        }
    }

    /** A read that found the input over (see the class comment): -1, the end, while the guard allows. */
    private int readPastEnd() throws ReaderStalledException {
        countPastEnd();
        return -1;
    }

    /**
     * Counts a read after the end (see the class comment): it may go on, the first
     * {@value #READS_PAST_END} times; then it throws a {@link ReaderStalledException}, and every
     * later one an {@link UncheckedIOException} of it, so a reader that catches the failures and
     * reads on in one call does not spin for ever, even one that catches every {@link IOException}.
     */
    private void countPastEnd() throws ReaderStalledException {
        if (pastEnd == null && ++readsPastEnd <= READS_PAST_END) {
            return;
        }
        if (pastEnd == null) {
            pastEnd = new ReaderStalledException("the reader read on past the end of the input "
                    + READS_PAST_END + " times in one call; a reader must end its call at the end of its input");
            throw pastEnd;
        }
        throw new UncheckedIOException(pastEnd);
    }

    /**
     * A read from the transport failed for good ({@code e}: closed, reset; not a timeout): the
     * connection ends with it unless its end was recorded already (a close's), whatever the reader
     * throws next, and later reads fail at once, counted (see the class comment). What was
     * buffered may still be read.
     */
    private IOException failed(IOException e) {
        if (!ended) {
            ended = true;
            onEndOfStream.inputFailed(e);
        }
        return e;
    }

    /** A shutdown refuses the reader a new request: later reads fail at once, counted (see the class comment). */
    private AsynchronousCloseException refused() {
        ended = true;
        return new AsynchronousCloseException();
    }

    /**
     * Between reader calls, with nothing buffered, on a pooled transport: prepares to wait for the
     * next frame with no thread — the read buffer goes back to the pool, and the read timeout
     * applies to the suspension, which is the wait ({@link ReadDeadlines#suspend()}).
     *
     * @return the deadline that must end the suspension — the earlier of the user's read deadline
     *     and the first-frame deadline — 0 for none, or -1 if this input
     *     cannot be suspended now: bytes are buffered, or a layer holds part of a record
     *     ({@link Transport#holdsPartialInput()}); either is a frame begun, whose wait is the
     *     reader's, under the frame timeout
     */
    long prepareSuspension() {
        if (pos < lim || !pooled || transport.holdsPartialInput()) {
            return -1;
        }
        releaseBuffer();
        // As a blocked read would be, until the loop goes on (resumed); between calls, so at rest.
        WAIT_STATE.getAndBitwiseOr(this, AWAITING | AT_REST);
        return deadlines.suspend();
    }

    /**
     * The loop goes on after {@link #prepareSuspension}: on a new thread once the suspension ended
     * ({@code waited}: a new turn begins, see {@link #TURN_BYTES}), or on the same one, which found
     * input there before the suspension was armed.
     */
    void resumed(boolean waited) {
        WAIT_STATE.getAndBitwiseAnd(this, ~(AWAITING | AT_REST));
        if (waited) {
            turnBytes = 0;
        }
    }

    /**
     * The reader's sender leaves it the write of what it queued (see {@link QueueWriter}): only on
     * a pooled transport, whose reader suspends instead of blocking, and for one sender at a time.
     *
     * @return false: the caller starts a send thread instead
     */
    boolean oweDrain(QueueWriter writer) {
        if (!mayOweDrain()) {
            return false;
        }
        owedDrain = writer;
        return true;
    }

    /** Whether {@link #oweDrain} would succeed now. */
    boolean mayOweDrain() {
        return pooled && owedDrain == null;
    }

    boolean owesDrain(QueueWriter writer) {
        return owedDrain == writer;
    }

    /** Whether the reader owes any drain. Reader thread only. */
    boolean owesDrain() {
        return owedDrain != null;
    }

    /**
     * Writes what the reader owes, if anything: before anything that could wait. Between reads (a
     * put's, the loop's before it suspends): a wait of the write for room gives the read buffer
     * back ({@link #writeWaits}).
     */
    void payOwedDrain() {
        payOwedDrain(false);
    }

    /**
     * {@link #payOwedDrain()} from inside a read (here, or a value's growth, {@link ArrayGrowth}),
     * which goes on with the buffer as it was: a wait of the write for room keeps it.
     */
    void payOwedDrainInRead() {
        payOwedDrain(true);
    }

    private void payOwedDrain(boolean inRead) {
        QueueWriter w = owedDrain;
        if (w != null) {
            owedDrain = null;
            paying = w;
            payInRead = inRead;
            try {
                w.payOwed(); // writes every lent reply, or discards it with the connection
            } finally {
                paying = null;
                payInRead = false;
                lentEnd = 0;
            }
        }
    }

    /** Before the buffer's bytes are overwritten or the buffer given away: the replies lent from it are written. */
    private void payLent() {
        if (lentEnd > 0) {
            payOwedDrainInRead();
        }
    }

    /**
     * The read timeout ended the suspension ({@link ReadIdleWatch}): the next wait throws
     * {@link io.stcp.ReadTimeoutException} at once, as it would have after waiting in a read (or
     * the exception of a deadline that has passed too: the first frame's ends the connection); once,
     * and a later wait waits anew. Until the reader's call returns or input comes.
     */
    void idleTimedOut() {
        idleTimedOut = true;
    }

    /** The transport may have input now ({@link Transport#isReadable()}): it would not call back, but say read. */
    boolean mayBeReadable() {
        return transport.isReadable();
    }

    /** See {@link Transport#onReadable(Runnable)}. */
    boolean onReadable(Runnable action) {
        return transport.onReadable(action);
    }

    private void advance(int n) {
        pos += n;
        consumed(n);
    }

    /**
     * Counts {@code n} bytes consumed; reader thread only. An opaque write: other threads read the
     * count ({@link #bytesRead()}: the server's stats, the stall detector) and must see a whole
     * value that never goes back, which a plain write does not promise (the JIT may keep it in a
     * register across a loop of reads); on x86-64 and AArch64 it is the plain store all the same,
     * with no fence, where a volatile write would add one per read.
     */
    private void consumed(long n) {
        BYTES_READ.setOpaque(this, bytesRead + n);
    }

    /** Ensures at least {@code n} (at most the buffer size) bytes are buffered. */
    private void ensure(int n) throws IOException {
        while (lim - pos < n) {
            if (fill() < 0) {
                throw new EOFException("end of stream: needed " + n + " bytes, had " + (lim - pos));
            }
        }
    }

    /**
     * Reads more into the buffer, compacting it first if needed; -1 at end of stream. On a pooled
     * transport it waits without a buffer, or with a small one for the bytes of an unfinished
     * value, and reads into a wide (or large) buffer while the peer sends more than a small one holds.
     */
    private int fill() throws IOException {
        failIfEnded();
        if (inputOver) {
            return readPastEnd(); // no wait, no buffer, no turn
        }
        if (!pooled || !transport.tellsReadiness()) {
            return fillOnce(false);
        }
        // On a transport that tells readiness a pass waits first if the transport is not readable
        // (without the buffer, or with a few bytes in a small one), then reads what is there without
        // waiting. A readiness that says "maybe" (the last read filled all it was offered) is tried
        // at once; found empty, the transport knows, and the next pass waits. A layer that took part
        // of a record (TLS) and has no whole one returns nothing too: its wait for the rest is a
        // pass's, not one inside its read holding the buffer. A transport that says readable after a
        // read found nothing (an edge since, or it cannot tell) is read with a wait.
        boolean now = true;
        while (true) {
            int n = fillOnce(now);
            if (n != 0) {
                return n;
            }
            now = !transport.isReadable() || transport.holdsPartialInput();
        }
    }

    /** One pass of {@link #fill()}; 0 only with {@code orNone}, when a read found nothing there and did not wait. */
    private int fillOnce(boolean orNone) throws IOException {
        if (parked) {
            unpark();
        }
        if (pooled && !transport.isReadable()) {
            if (pos == lim) {
                // Nothing buffered and nothing to read: wait without holding a buffer.
                releaseBuffer();
                awaitTransport(0);
            } else {
                fitBuffer();
                if (orNone) {
                    awaitTransport(0); // the read below does not wait
                }
            }
        }
        if (turnBytes >= TURN_BYTES && !transport.holdsInput()) {
            giveWay(false); // here, not in readTransport: it may change the buffer
        }
        if (parked) {
            unpark(); // parked as a write of what the reader owes waited, above
        }
        if (pooled && pos == lim && buf != null && wide != (buf.length >= ReadBuffers.LARGE)) {
            releaseBuffer();
        }
        if (buf == null) {
            buf = pooled ? takeBuffer(wide) : new byte[BUFFER_SIZE];
        }
        if (pos == lim) {
            payLent();
            pos = lim = 0;
        } else if (lim == buf.length) {
            payLent();
            System.arraycopy(buf, pos, buf, 0, lim - pos);
            lim -= pos;
            pos = 0;
        }
        int n = readTransport(buf, lim, buf.length - lim, null, orNone);
        if (n > 0) {
            if (pooled && buf.length >= ReadBuffers.LARGE) {
                wide = n >= ReadBuffers.SIZE;
            } else if (pooled && lim == 0 && n == buf.length) {
                wide = true;
            }
            lim += n;
        }
        return n;
    }

    /**
     * Waits on the transport within the read deadline in force: for any byte ({@code bytes} 0),
     * until {@code bytes} can be read at once ({@link Transport#awaitInput}), or for this reader's
     * turn ({@link #GIVE_WAY}: {@link Transport#giveWay}, which waits for input too when the
     * socket has none). Each is a wait for input, marked so in {@link #waitState}: a give-way
     * left unmarked kept a reader that waited there for its peer's next request from ever being
     * seen at rest (a graceful shutdown waited for it until its deadline).
     */
    private void awaitTransport(int bytes) throws IOException {
        failIfEnded();
        if (inputOver) {
            return; // the read that follows finds the end of stream
        }
        payOwedDrain(); // its callers go on with the buffer as they find it: a fill unparks it
        turnBytes = 0;
        // A wait for the rest of a value is inside its frame, though none of it may be buffered
        // yet (a relay that is the call's first read): the frame timeout bounds it.
        long deadline = waitDeadline(0, bytes > 0);
        int wait = beginWait(pos < lim);
        boolean finished;
        try {
            if (bytes == 0) {
                transport.awaitReadable(deadline);
            } else if (bytes == GIVE_WAY) {
                transport.giveWay(deadline);
            } else {
                transport.awaitInput(bytes, deadline);
            }
        } catch (ReadTimeoutException e) {
            throw timedOut(deadline, e);
        } catch (IOException e) {
            throw failed(e);
        } finally {
            finished = endWait(wait);
        }
        if (finished) {
            throw refused(); // input came as the shutdown began: not read
        }
    }

    /**
     * The end of a turn: what the reader owes is written, a wide buffer goes back to the pool for
     * the readers that run meanwhile (its bytes left, if any, to a smaller one), then other
     * connections' threads run.
     */
    private void giveWay(boolean inRead) throws IOException {
        payOwedDrain(inRead);
        if (buf != null && buf.length == ReadBuffers.WIDE) {
            if (pos == lim) {
                releaseBuffer();
            } else {
                fitBuffer();
            }
        }
        awaitTransport(GIVE_WAY);
    }

    /**
     * About to wait with bytes of a value buffered: keeps them in the smallest pooled buffer that
     * holds them (more than a large buffer's worth stay where they are).
     */
    private void fitBuffer() {
        int n = lim - pos;
        int fits = n < ReadBuffers.SIZE ? ReadBuffers.SIZE : ReadBuffers.LARGE;
        if (n <= ReadBuffers.LARGE && buf.length > fits) {
            payLent();
            byte[] b = ReadBuffers.take(fits == ReadBuffers.LARGE);
            System.arraycopy(buf, pos, b, 0, n);
            ReadBuffers.give(buf);
            buf = b;
            parked = false; // a pooled buffer again
            lim = n;
            pos = 0;
        }
    }

    /**
     * About to wait for room for a put, not for input (see the class comment, "A wait for room"):
     * gives the pooled buffer back, its bytes left, if any, moved to an array of their size, and
     * has the transport do the same with its own ({@link Transport#parkBuffers()}). Nothing here
     * when the transport cannot tell readiness (its one small buffer stays), replies are lent from
     * the buffer, it is a wide one, or it holds no more than its bytes already; nor an
     * array parked at an earlier wait unless its bytes left are at most half of it: a reader
     * answering pipelined requests out of that array, each put waiting, copied what was left once
     * per request (12-byte echoes through a queue of one message: 5 GB copied for 3.2 MB read);
     * halving keeps the copies of one fill's bytes to twice them, and the array to less than twice
     * its bytes left. Reader thread only.
     */
    void parkBuffer() {
        parkBuffer(lentEnd > 0);
    }

    /**
     * {@link #parkBuffer()}, keeping the buffer where it is if {@code viewed}: bytes of it are yet to
     * be written.
     */
    private void parkBuffer(boolean viewed) {
        transport.parkBuffers(); // a TLS layer's too, whatever this buffer does
        if (!pooled || buf == null || viewed || buf.length == ReadBuffers.WIDE) {
            return;
        }
        int n = lim - pos;
        if (n == 0) {
            releaseBuffer();
        } else if (parked ? n <= buf.length / 2 : n < buf.length) {
            byte[] b = Arrays.copyOfRange(buf, pos, lim);
            ReadBuffers.give(buf); // an array parked before is no pool's: given to none
            buf = b;
            pos = 0;
            lim = n;
            parked = true;
        }
    }

    /**
     * A write of this connection's, on the reader thread, is about to wait for room in the socket
     * ({@link WriteWaits}): the drain the reader owes, a reply it writes inline, any write of its
     * own. As before a wait for room for a put ({@link #parkBuffer()}), the reader gives its read
     * buffers back (see the class comment, "A wait for the peer to read"): the transport's always
     * (a TLS layer's, which no write refers to), its own unless bytes of it are yet to be written —
     * a reply lent from it among the write's {@code unwritten[off .. end)}, still queued, or lent
     * and not yet queued ({@link #lending}: the drain paid before a lent reply is queued) — or
     * the pay is one of a read here, which goes on with the buffer as it was ({@link #payInRead}).
     * Reader thread only.
     */
    void writeWaits(ByteBuffer[] unwritten, int off, int end) {
        parkBuffer(payInRead || lending || lentQueued() || views(unwritten, off, end));
    }

    /** Whether replies lent from the buffer wait in the queue, in no write yet. */
    private boolean lentQueued() {
        if (lentEnd == 0) {
            return false;
        }
        QueueWriter w = paying;
        return w == null || w.holdsLent(); // outside a pay the drain is owed, and what was lent is queued
    }

    /** Whether any of {@code buffers[off .. end)} with bytes left is a view of the buffer (a reply lent from it). */
    private boolean views(ByteBuffer[] buffers, int off, int end) {
        for (int i = off; i < end; i++) {
            ByteBuffer b = buffers[i];
            if (b.hasRemaining() && b.hasArray() && b.array() == buf) {
                return true;
            }
        }
        return false;
    }

    /** The fill after a {@link #parkBuffer()}: the bytes left move back to the smallest pooled buffer that holds them. */
    private void unpark() {
        payLent(); // replies lent from the parked array are written before it goes
        parked = false;
        byte[] b = buf;
        int n = lim - pos;
        buf = n == 0 ? null : ReadBuffers.take(n >= ReadBuffers.SIZE);
        if (n > 0) {
            System.arraycopy(b, pos, buf, 0, n);
        }
        pos = 0;
        lim = n;
    }

    /** A pooled buffer to read into: a wide one if {@code wide} and one is free, else a large one; small if not {@code wide}. */
    private static byte[] takeBuffer(boolean wide) {
        if (wide) {
            byte[] b = ReadBuffers.takeWide();
            if (b != null) {
                return b;
            }
        }
        return ReadBuffers.take(wide);
    }

    /**
     * The connection has ended (its reader's last step, after the sender's end): the buffer goes
     * back to the pool, and with it any bytes still in it or lent from it, which nothing reads or
     * writes any more; so do the transport's ({@link Transport#releaseBuffers()}), and a value the
     * reader held, if any ({@link #giveUp()}). A read after it (an exit hook's) throws
     * {@link ClosedChannelException} and takes no buffer.
     */
    void ended() {
        ended = true;
        if (buf != null && pooled) {
            ReadBuffers.give(buf);
        }
        buf = null;
        parked = false;
        pos = lim = lentEnd = 0;
        transport.releaseBuffers(); // and the transport's own: a TLS layer's
        giveUp(); // the reader's call gave it up, unless a hook read it last or a full heap failed that
    }

    /**
     * A read after {@link #ended()} (an exit hook's, on the last reader thread), or after the input
     * ended for the reader ({@link #failed}, {@link #refused}, a graceful close), fails, before it
     * takes a buffer that nothing would give back, as the TLS layer's does ({@link TlsTransport});
     * counted by the guard (see the class comment).
     */
    private void failIfEnded() throws IOException {
        if (ended) {
            countPastEnd();
            throw new ClosedChannelException();
        }
    }

    /** Gives the (empty) buffer back to the pool. */
    private void releaseBuffer() {
        if (buf != null) {
            payLent();
            ReadBuffers.give(buf);
            buf = null;
            parked = false;
            pos = lim = 0;
        }
    }

    /**
     * Reads from the transport into {@code b[off .. off+len)}, or, when {@code direct} is given, into
     * the direct buffers {@code direct[off .. off+len)}; with {@code orNone}, returns 0 instead of
     * waiting when nothing is there.
     */
    private int readTransport(byte @Nullable [] b, int off, int len, ByteBuffer @Nullable [] direct, boolean orNone)
            throws IOException {
        failIfEnded();
        if (inputOver) {
            return readPastEnd(); // nothing more is read (see the class comment)
        }
        if (turnBytes >= TURN_BYTES && !transport.holdsInput()) { // else the turn ends at a later read
            giveWay(b == buf); // reading into the buffer, the caller goes on with it as it was
        }
        if (owedDrain != null || orNone) {
            int n;
            try {
                n = direct == null ? transport.readNow(b, off, len) : (int) transport.readNow(direct, off, len);
            } catch (TlsTruncatedException e) {
                throw truncated(e);
            } catch (IOException e) {
                throw failed(e);
            }
            if (n != 0) {
                idleTimedOut = false; // input came as the timeout passed: a later wait waits anew
                if (n < 0) {
                    endOfStream();
                } else {
                    taken(n);
                }
                return n;
            }
            if (orNone) {
                if (((int) WAIT_STATE.getOpaque(this) & CLOSING) != 0 && transport.tookInputWhileClosing()) {
                    // A layer (TLS) took the peer's bytes, which made no data yet — part of a record,
                    // records without data — and the value is not the reader's any more: its reading
                    // ends, as after any bytes taken. Read on, it waited again for each piece, and a
                    // close on another thread, seeing a wait with nothing unread each time, took a
                    // peer still sending for a quiet one and reset it; the reader thread's end reads
                    // below the layer instead.
                    taken(0);
                }
                return 0;
            }
            payOwedDrain(b == buf); // the read below may wait, into b: the buffer, if it is, stays
        }
        while (true) {
            long deadline = readDeadline();
            int wait = beginWait(pos < lim); // with part of a value buffered too: the JDK transport's wait for its rest is here
            if (!transport.isReadable()) {
                turnBytes = 0; // this read waits
            }
            int n;
            boolean finished;
            try {
                n = direct == null ? transport.read(b, off, len, deadline) : (int) transport.read(direct, off, len, deadline);
            } catch (ReadTimeoutException e) {
                throw timedOut(deadline, e);
            } catch (TlsTruncatedException e) {
                throw truncated(e);
            } catch (IOException e) {
                throw failed(e);
            } finally {
                finished = endWait(wait);
            }
            if (n < 0) {
                endOfStream();
            } else if (finished) {
                throw refused(); // input came as the shutdown began: not read
            } else {
                taken(n);
            }
            if (n != 0) {
                idleTimedOut = false;
                return n;
            }
            // 0: a layer took part of a record and would wait for the rest, under the frame deadline now
        }
    }

    /**
     * {@code n} bytes (0 or more) came from the transport for the reader: counted in its turn, unless
     * a graceful close has begun ({@link #closing()}): then they are not the reader's (see the
     * class comment).
     *
     * @throws AsynchronousCloseException if a graceful close has begun: those bytes and the
     *     buffered ones are dropped, and every later read fails at once
     */
    private void taken(int n) throws AsynchronousCloseException {
        if (((int) WAIT_STATE.getOpaque(this) & CLOSING) != 0) {
            tookWhileClosing = true;
            endForReader();
            throw new AsynchronousCloseException();
        }
        turnBytes += n;
    }

    /** The reader reads no more: what is buffered is dropped, and every read fails at once. Reader thread. */
    private void endForReader() {
        ended = true;
        pos = lim;
    }

    /**
     * The deadline of the next wait: the earliest that applies, 0 for none.
     *
     * @param now {@code nanoTime}, or 0 to read the clock only if some deadline applies
     * @throws ReadTimeoutException if it has passed already
     */
    long waitDeadline(long now) throws ReadTimeoutException {
        return waitDeadline(now, false);
    }

    /** As {@link #waitDeadline(long)}; {@code inValue}: the wait is for the rest of a value begun. */
    private long waitDeadline(long now, boolean inValue) throws ReadTimeoutException {
        boolean partial = inValue || lim > pos || transport.holdsPartialInput();
        try {
            if (idleTimedOut) {
                idleTimedOut = false;
                // A deadline that has passed as well (the first frame's, the user's) is thrown instead,
                // as a wait under the earliest would have: the sweep that saw the read timeout may
                // have run before the one that saw the deadline.
                deadlines.next(now, bytesRead, partial);
                throw deadlines.idleTimeout();
            }
            return deadlines.next(now, bytesRead, partial);
        } catch (FrameTimeoutException e) {
            throw endsInput(e);
        }
    }

    /**
     * The deadline of a read from the transport, which may have passed: the read takes what has
     * arrived without waiting and times out only if nothing has ({@link ReadDeadlines#nextOrPassed}).
     * On the JDK transport a reader that came to its read after its frame deadline failed
     * FRAME_TIMEOUT here though the rest of the frame was in the socket, where a transport that
     * knows readiness read it. A suspension's read timeout that passed still throws.
     */
    private long readDeadline() throws ReadTimeoutException {
        if (idleTimedOut) {
            return waitDeadline(0);
        }
        return deadlines.nextOrPassed(0, bytesRead, lim > pos || transport.holdsPartialInput());
    }

    /** A frame timeout of the caller's own, which ends the connection even if the reader catches it. */
    FrameTimeoutException frameTimedOut(String message) {
        return endsInput(new FrameTimeoutException(message));
    }

    /** A read timeout that cut a framing reader's frame ({@link CutFrames}): it ends the input. */
    ReadTimeoutException cutFrame(ReadTimeoutException e) {
        return endsInput(e);
    }

    /**
     * A timeout that ends the connection even if the reader catches it — a frame timeout, or a read
     * timeout that cut a framing reader's frame — ends the input for the reader: what is buffered
     * (part of the frame not completed) is dropped, the connection's end is recorded with
     * {@code e} ({@link EndOfStream#inputTimedOut}), and every later read finds the end of stream
     * at once, without a wait, a buffer or a clock, until the call returns and the connection ends
     * ({@link #endCall()}). So a reader that catches the timeout and reads on in the same call gets
     * no frame the peer never sent, nor a timeout thrown at once at every read (which spun such a
     * reader, catching each, until its call returned): the end of stream, as after a peer's close
     * (and, as there, only so many times: see the class comment).
     */
    <T extends ReadTimeoutException> T endsInput(T e) {
        if (endedBy == null) {
            endedBy = e;
            inputOver = true;
            onEndOfStream.inputTimedOut(e);
        }
        pos = lim;
        return e;
    }

    /** The TLS layer read the end of stream without close_notify: the input is over (see the class comment). */
    private TlsTruncatedException truncated(TlsTruncatedException e) {
        inputOver = true;
        truncated = e;
        return e;
    }

    /**
     * The exception for a wait under {@code deadline} that the transport ended with {@code e}: the
     * one of the deadline that passed. With none in force (0) no deadline of ours passed, and the
     * transport's own stands: only a test's ({@link MemoryTransport#timeoutNextRead}) times out so.
     */
    private ReadTimeoutException timedOut(long deadline, ReadTimeoutException e) {
        ReadTimeoutException t = deadline == 0 ? e : deadlines.timedOut(deadline);
        return t instanceof FrameTimeoutException ? endsInput(t) : t;
    }
}
