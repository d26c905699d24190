package io.stcp.internal;

import io.stcp.TlsTruncatedException;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.util.function.LongSupplier;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import org.jspecify.annotations.Nullable;

/**
 * A TLS connection over another {@link Transport}, with the JDK's {@link SSLEngine}: reads
 * decrypt, writes encrypt, {@link #shutdownOutput()} sends {@code close_notify} and then the FIN.
 * The decoder above sees plain bytes and the same deadlines.
 *
 * <p><b>Buffers</b> ({@link TlsBuffers}):
 * <ul>
 *   <li>{@link #netIn}: encrypted bytes received and not yet decrypted — the reader's; four records
 *       large on a readiness transport (several records per read), where it is given back when
 *       empty before the reader waits, so an idle connection holds none, and where the part of a
 *       record it holds moves to a one-record buffer before the reader waits for the rest (a
 *       read takes four again once that one is full); one record large during the handshake and
 *       on the JDK's transports (TCP and Unix), whose blocked read needs it; before the reader
 *       waits for room for a put or gives way ({@link #giveWay}), its bytes move to a buffer of their
 *       size ({@link #parkBuffers()});</li>
 *   <li>{@link #appIn}: decrypted bytes the caller's buffer had no room for — the reader's; one
 *       record large, only taken when a record is larger than the caller's buffer, given back once
 *       read; its bytes moved to a buffer of their size before a wait for room, as {@link #netIn}'s;</li>
 *   <li>both given back when the connection ends, and when its handshake fails
 *       ({@link #releaseBuffers()});</li>
 *   <li>netOut: encrypted bytes being written ({@link TlsOutput}).</li>
 * </ul>
 * Records decrypt straight into the caller's array when it has room for them (the JDK checks the
 * room against the record's real length), which it usually has for small messages.
 *
 * <p><b>Threads.</b> Reads, the handshake and {@link #isReadable()} come from the reader thread;
 * writes and {@link #shutdownOutput()} from one thread at a time; both sides may run at once.
 * Everything that goes out — writes, and what the engine must send on its own — goes through
 * {@link TlsOutput}.
 *
 * <p><b>Ends.</b> The peer's {@code close_notify} is end of stream (-1). A TCP end of stream
 * without it throws {@link TlsTruncatedException}. Renegotiation (TLS 1.2) is refused: it fails the
 * read with an {@link SSLException} at its first record's header ({@link #checkRecordHeader()}).
 *
 * <p><b>Failures after data.</b> A read that has decrypted bytes into the caller's array returns
 * them even if what follows in the same read fails (the engine's answer to a key update cannot be
 * written, a later record does not decrypt): the failure is kept ({@link #failure}) and thrown by
 * the next read and every one after it, which return at once ({@link #holdsInput()}).
 */
final class TlsTransport implements Transport {
    private static final int RECORD_HEADER = 5;
    /** The content type of a record of handshake messages (the first byte of its header). */
    private static final byte HANDSHAKE = 22;
    /**
     * The most a record's header may announce: 2^14 bytes of data plus 2,048 of TLS 1.2's
     * expansion (TLS 1.3 allows less). A header that announces more fails the read at once
     * ({@link #checkRecordHeader()}), before the reader holds a buffer for that much.
     */
    static final int MAX_RECORD_LENGTH = 16 * 1024 + 2048;
    /**
     * Unwraps in a row that may read nothing of a whole record in {@link #netIn} (the one after a
     * post-handshake message the engine answered first) before the read fails: otherwise an engine
     * that disagreed with {@link #hasRecord()} on a record's end would spin the reader.
     */
    private static final int MAX_IDLE_UNWRAPS = 2;
    /**
     * Records in a row, after the handshake, that decrypt to no application data (key updates,
     * session tickets, empty records, warning alerts) before the read fails: each costs the server
     * the record's work (a key update, a key derivation) for a few bytes of the peer's, and none
     * counts as input a reader could take, so without a limit a peer could keep a thread busy on
     * them for as long as it likes. A real peer sends a handful (tickets after the handshake, a key
     * update now and then), each followed by data.
     */
    static final int MAX_EMPTY_RECORDS = 32;
    /**
     * Bytes of records, after the handshake, that decrypt to no application data, beyond those of
     * the records with data, before the read fails: an allowance that such records use up and
     * records with data refill, byte for byte, up to this much. {@link #MAX_EMPTY_RECORDS} alone
     * lets a peer send them for ever, 32 for each byte of data, and have the reader do a key
     * update's work for each; with this, the records without data cost no more than those with
     * data, and this much. A real peer sends a few tickets after the handshake (a few kilobytes at
     * most, a client's certificates included) and a key update (a few dozen bytes) after a great
     * deal of data; one that sent only key updates and a little data between would end.
     *
     * <p>An engine that {@linkplain RealTlsConfig#keepsTickets keeps the session tickets} a server
     * sends keeps each for the connection's life (a few hundred bytes of heap from as little as
     * eighteen of the server's): there the allowance is never refilled, so that what the engine
     * keeps stays bounded by this much over the connection's life — and a peer that updates its
     * keys very often (some 6,000 times) ends. stcp's own client contexts keep none.
     */
    static final int MAX_EMPTY_RECORD_BYTES = 256 * 1024;
    /**
     * The longest record, header included, that a server takes after the handshake without
     * application data in it: a key update or an alert takes 24 to 27 bytes in TLS 1.3, an alert or
     * an empty record in TLS 1.2 with the most CBC padding some 330; room is left for a library
     * that pads its records. A longer one ends the connection once read. The JDK's engine acts on
     * every handshake message a record holds, though RFC 8446 has each key change end its record:
     * a record of 16 KiB packs 3,276 key updates of 5 bytes, each a key derivation and a new cipher
     * and, when it asks for an answer, a second of both and a record to send: 50 to 100 ms of the
     * server's CPU for one record of the client's (a handshake costs some 15), which
     * {@link #MAX_EMPTY_RECORDS} and {@link #MAX_EMPTY_RECORD_BYTES} counted as one record of
     * 16 KiB, so that a client sending one after each 16 KiB of data kept a core busy for as long
     * as it liked. With this, a connection costs at most one such record. A client takes longer
     * ones, within {@link #MAX_CLIENT_LONG_EMPTY_BYTES}: servers send session tickets, some of a
     * few KiB, several to a record, and some pad every record to 16 KiB.
     */
    static final int MAX_SERVER_EMPTY_RECORD = 512;
    /**
     * The longest TLS 1.3 record with an AEAD suite of 16 bytes' tag: a header of 5, 2^14 bytes of
     * content and its type, the tag. A server that pads its records to the most (OpenSSL's
     * {@code -record_padding 16384}) sends each ticket and each key update in a record of about
     * this size.
     */
    static final int PADDED_RECORD_BYTES = 5 + 16 * 1024 + 1 + 16;
    /**
     * Bytes of records without application data longer than {@link #MAX_SERVER_EMPTY_RECORD} that a
     * client takes at once: an allowance that such records use up and time refills, one
     * {@linkplain #PADDED_RECORD_BYTES padded record} a minute, up to this much. A client cannot
     * tell a record that packs thousands of key updates (50 to 100 ms of its CPU) from one a server
     * pads (some 20 µs of work), so it bounds how many come how fast: room for eight padded records
     * at once (a server's tickets after the handshake, two by default; unpadded, a ticket of about
     * 1 KiB with a client's certificates also counts here) and one a minute after, so at most eight
     * packed records at once, then one a minute: 0.4 to 0.8 s of the client's CPU, then about a
     * thousandth of a core. Refilled by data, as {@link #MAX_EMPTY_RECORD_BYTES} is, a server that
     * sent one after each 16 KiB of data kept the client's reader busy for as long as it liked; not
     * refilled at all, a padding server's tickets and its key updates over a long life ended the
     * connection.
     */
    static final int MAX_CLIENT_LONG_EMPTY_BYTES = 8 * PADDED_RECORD_BYTES;
    private static final long NANOS_PER_REFILLED_BYTE = 60_000_000_000L / PADDED_RECORD_BYTES;
    private static final ByteBuffer NO_ROOM = ByteBuffer.allocate(0);

    private final Transport under;
    private final SSLEngine engine;
    private final TlsOutput output;
    private final String name;
    /**
     * Whether reads take a {@link TlsBuffers#BULK} buffer (several records per system call): on a
     * transport that can tell readiness, where an idle connection gives it back; the JDK
     * transports' reads wait inside the read and hold its buffer, so there it is one record large
     * ({@link Transport#tellsReadiness}).
     */
    private final boolean bulkReads;
    /** Whether records with data refill {@link #emptyAllowance}: not where the engine keeps session tickets. */
    private final boolean refills;

    // Reader thread only.
    private ByteBuffer netIn;  // read mode: [position, limit) received, not decrypted; null when given back
    private ByteBuffer appIn;  // read mode: [position, limit) decrypted, not yet read; null when given back
    private boolean inputClosed;
    private long handshakeBytes;  // received during the handshake; -1 once it is done
    // A handshake record after the handshake is a renegotiation, refused at its header
    // (checkRecordHeader): on TLS 1.2, whose headers carry the records' types (TLS 1.3's say
    // application data, and its engine takes its own post-handshake messages). Set by handshake().
    private boolean refusesHandshakeRecords;
    private int emptyRecords;     // records in a row that decrypted to nothing
    private long emptyAllowance = MAX_EMPTY_RECORD_BYTES; // bytes of records without data the peer may still send: those with data refill it
    private long longEmptyAllowance; // bytes of records without data longer than MAX_SERVER_EMPTY_RECORD still taken: none on a server's side
    private long longEmptyCountedAt; // nanoTime when a client's longEmptyAllowance was last brought up to date
    private IOException failure;  // what failed after a read's decrypted bytes, which it returned: thrown by every read from then on
    private boolean released;     // the buffers were given back (releaseBuffers): no read takes one again
    private volatile int appSize; // the session's; read again once the handshake is done (asking the engine takes its locks)
    private volatile boolean closeBegan; // a graceful close began: a read that takes bytes returns what they decrypt to (stopAwaitingInput)
    private boolean tookWhileClosing; // a read took the peer's bytes after that, which made no data, and returned 0; reader thread only

    /** @param writeTimeoutNanos the connection's write timeout, for what the engine must send on its own */
    TlsTransport(Transport under, RealTlsConfig.Engine made, LongSupplier writeTimeoutNanos) {
        SSLEngine engine = made.engine();
        this.under = under;
        this.engine = engine;
        this.refills = !made.keepsTickets();
        this.longEmptyAllowance = engine.getUseClientMode() ? MAX_CLIENT_LONG_EMPTY_BYTES : 0;
        this.longEmptyCountedAt = System.nanoTime();
        this.output = new TlsOutput(under, engine, writeTimeoutNanos);
        this.name = under.name() + "+tls";
        this.bulkReads = under.tellsReadiness();
        this.appSize = engine.getSession().getApplicationBufferSize();
    }

    // ---------------------------------------------------------------- handshake (reader thread)

    /**
     * Runs the handshake to its end, reading and writing within {@code deadlineNanos}.
     *
     * @throws io.stcp.ReadTimeoutException if the deadline passes first
     * @throws SSLException if the handshake fails (an alert has been sent where possible)
     */
    void handshake(long deadlineNanos) throws IOException {
        engine.beginHandshake();
        while (true) {
            switch (engine.getHandshakeStatus()) {
                case NEED_TASK -> runTasks(engine);
                case NEED_WRAP -> {
                    if (output.flushEngine(deadlineNanos) == 0) {
                        throw new SSLHandshakeException("the TLS engine asked to send but had nothing to send");
                    }
                }
                case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> unwrapHandshake(deadlineNanos);
                case FINISHED, NOT_HANDSHAKING -> {
                    handshakeBytes = -1;
                    refusesHandshakeRecords = !engine.getSession().getProtocol().equals("TLSv1.3");
                    output.handshakeDone();
                    appSize = engine.getSession().getApplicationBufferSize();
                    if (appIn != null && !appIn.hasRemaining()) {
                        TlsBuffers.give(appIn);
                        appIn = null;
                    }
                    return;
                }
            }
        }
    }

    private void unwrapHandshake(long deadlineNanos) throws IOException {
        if (netIn == null || !netIn.hasRemaining()) {
            if (fill(deadlineNanos, false) < 0) {
                throw closedDuringHandshake();
            }
        }
        // No buffer for decrypted bytes until one is asked for: handshake messages decrypt to none
        // (the JDK checks the room for them only once the handshake is done), and a peer that
        // trickles its hello must not make the server hold one meanwhile.
        ByteBuffer dst = appIn == null ? NO_ROOM : appIn.compact();
        SSLEngineResult r;
        try {
            r = engine.unwrap(netIn, dst);
        } finally {
            if (appIn != null) {
                appIn.flip();
            }
        }
        switch (r.getStatus()) {
            case BUFFER_UNDERFLOW -> {
                if (fill(deadlineNanos, false) < 0) {
                    throw closedDuringHandshake();
                }
            }
            case BUFFER_OVERFLOW -> appIn = appIn == null
                    ? TlsBuffers.take(engine.getSession().getApplicationBufferSize()).flip()
                    : TlsBuffers.grow(appIn, engine.getSession().getApplicationBufferSize());
            case CLOSED -> throw new SSLHandshakeException("the peer closed TLS during the handshake");
            case OK -> { }
        }
    }

    /** Whether the handshake is under way and the peer has sent no byte of it yet. */
    boolean peerSentNothing() {
        return handshakeBytes == 0;
    }

    /**
     * The peer's end of stream during the handshake: a failure if it had sent part of one; a plain
     * {@link EOFException} if it sent nothing at all — a TCP health check, not an attack.
     */
    private IOException closedDuringHandshake() {
        if (handshakeBytes == 0) {
            return new EOFException("the peer closed the connection before starting the TLS handshake");
        }
        return new SSLHandshakeException("the peer closed the connection during the handshake");
    }

    /** Sends the alert the engine holds after a failed handshake, within a short while; never throws. */
    void sendAlert(long deadlineNanos) {
        output.sendAlert(deadlineNanos);
    }

    /** Runs the tasks {@code engine} delegates (the handshake's key exchange and checks), on this thread. */
    static void runTasks(SSLEngine engine) {
        Runnable task;
        while ((task = engine.getDelegatedTask()) != null) {
            task.run();
        }
    }

    // ---------------------------------------------------------------- reads (reader thread)

    /**
     * Decrypted bytes, -1 at {@code close_notify}, or 0 once it has read the first bytes of a
     * record and not the rest while the caller's deadline did not count on one
     * ({@link #holdsPartialInput()}): a frame has begun, and the caller reads again under the
     * frame timeout. Once a graceful close began, also 0 once it has read bytes that decrypt to no
     * data: part of a record, records without data ({@link #stopAwaitingInput()}).
     */
    @Override
    public int read(byte[] b, int off, int len, long deadlineNanos) throws IOException {
        return read(b, off, len, deadlineNanos, false);
    }

    /**
     * As {@link #read(byte[], int, int, long)}, without waiting: what decrypts from the records held
     * and from what the transport below has now ({@link Transport#readNow}); 0 when that makes no
     * whole record.
     */
    @Override
    public int readNow(byte[] b, int off, int len) throws IOException {
        return read(b, off, len, 0, true);
    }

    private int read(byte[] b, int off, int len, long deadlineNanos, boolean now) throws IOException {
        boolean partial = holdsPartialInput(); // the caller's deadline counted it
        boolean took = false; // this read took bytes from the transport below
        while (true) {
            if (appIn != null) {
                int n = Math.min(len, appIn.remaining());
                appIn.get(b, off, n);
                if (!appIn.hasRemaining()) {
                    TlsBuffers.give(appIn);
                    appIn = null;
                }
                return n;
            }
            if (failure != null) {
                throw failure;
            }
            if (inputClosed) {
                return -1;
            }
            if (hasRecord()) {
                int n = unwrap(b, off, len);
                if (n != 0 || !now && partial) {
                    return n; // 0: records without data, which the caller's deadline may have counted as a frame's
                }
            } else if (!now && !partial && netIn != null && netIn.hasRemaining()) {
                return 0; // part of a record, new to the caller's deadline
            } else if (took && closeBegan) { // looked at only before taking more: a read whose bytes made data returned first
                tookWhileClosing = true;
                return 0; // a graceful close began: the peer's bytes, taken, made no data yet (see stopAwaitingInput)
            } else {
                int n = fill(deadlineNanos, now);
                if (n < 0) {
                    throw new TlsTruncatedException(netIn != null && netIn.hasRemaining()
                            ? "end of stream inside a TLS record" : "end of stream without TLS close_notify");
                }
                if (n == 0 && now) {
                    return 0;
                }
                took |= n > 0;
            }
        }
    }

    /**
     * A graceful close began: from now on a read that takes bytes from the transport below returns
     * once it has decrypted what they complete, 0 if that is no data — part of a record, records
     * without data (a key update) — rather than wait inside this layer for more, and says so
     * ({@link #tookInputWhileClosing()}, for a read that does not wait). The reader's reading ends
     * as it takes them (the value is not its any more: {@link ConnectionInput#closing}), and the
     * reader thread's end reads below this layer ({@link #discard}), where each byte counts as the
     * peer's sending. Waiting here, or (not waiting) returning 0 as if nothing had come, a read
     * let a close on another thread see a wait for the rest of a value with nothing unread while
     * the peer trickled a record, or sent records without data, take the peer for quiet after
     * 200 ms, and reset it. Then the transport below's. Any thread.
     */
    @Override
    public void stopAwaitingInput() {
        closeBegan = true;
        under.stopAwaitingInput();
    }

    /**
     * Decrypts the records in {@link #netIn} into {@code b}, or into {@link #appIn} if the first is
     * too large for it. A failure once some bytes are in {@code b} is kept for the next read
     * ({@link #failure}), and those bytes are returned.
     *
     * @return bytes decrypted into {@code b}; 0 if none were (they went to {@link #appIn}, or the
     *     records held none: a key update, a session ticket); -1 at the peer's {@code close_notify}
     */
    private int unwrap(byte[] b, int off, int len) throws IOException {
        ByteBuffer dst = ByteBuffer.wrap(b, off, len);
        try {
            return unwrap(dst);
        } catch (IOException e) {
            int produced = dst.position() - off;
            if (produced == 0) {
                throw e;
            }
            failure = e;
            return produced;
        }
    }

    private int unwrap(ByteBuffer dst) throws IOException {
        int produced = 0;
        int idle = 0;
        while (true) {
            checkRecordHeader();
            SSLEngineResult r = engine.unwrap(netIn, dst);
            produced += r.bytesProduced();
            countRecord(r);
            afterUnwrap(r);
            if (r.bytesConsumed() == 0 && r.getStatus() != SSLEngineResult.Status.BUFFER_OVERFLOW && hasRecord()
                    && ++idle > MAX_IDLE_UNWRAPS) {
                // The engine and hasRecord() disagree on where a record ends: never loop on it.
                throw new SSLException("the TLS engine reads nothing of a whole record (" + r.getStatus() + ")");
            }
            switch (r.getStatus()) {
                case OK -> {
                    if (!dst.hasRemaining() || !hasRecord()) {
                        return produced;
                    }
                }
                case BUFFER_OVERFLOW -> {
                    if (produced > 0) {
                        return produced;
                    }
                    return unwrapToAppIn();
                }
                case BUFFER_UNDERFLOW -> {
                    if (!hasRecord()) {
                        return produced; // a record larger than netIn: fill() grows it
                    }
                }
                case CLOSED -> {
                    inputClosed = true;
                    return produced > 0 ? produced : -1;
                }
            }
        }
    }

    /** Decrypts one record into {@link #appIn}, taken for it; returns 0, or -1 at close_notify. */
    private int unwrapToAppIn() throws IOException {
        ByteBuffer dst = TlsBuffers.take(appSize);
        SSLEngineResult r;
        while (true) {
            r = engine.unwrap(netIn, dst);
            if (r.getStatus() != SSLEngineResult.Status.BUFFER_OVERFLOW) {
                break;
            }
            dst = TlsBuffers.grow(dst.flip(), engine.getSession().getApplicationBufferSize()).compact();
        }
        dst.flip();
        if (dst.hasRemaining()) {
            appIn = dst;
        } else {
            TlsBuffers.give(dst);
        }
        try {
            countRecord(r);
            afterUnwrap(r);
        } catch (IOException e) {
            if (appIn == null) {
                throw e;
            }
            failure = e; // after the record's bytes, which the read returns first
            return 0;
        }
        if (r.getStatus() == SSLEngineResult.Status.CLOSED) {
            inputClosed = true;
        }
        return appIn == null && inputClosed ? -1 : 0;
    }

    /**
     * Counts a record an unwrap read: one that decrypted to nothing uses up {@link #emptyAllowance},
     * failing past {@link #MAX_EMPTY_RECORDS} in a row or once none is left, and if it is longer
     * than {@link #MAX_SERVER_EMPTY_RECORD} is counted as such ({@link #takeLongEmptyRecord}); one
     * with data refills {@link #emptyAllowance} by its bytes, up to {@link #MAX_EMPTY_RECORD_BYTES},
     * unless the engine keeps tickets.
     */
    private void countRecord(SSLEngineResult r) throws SSLException {
        if (r.bytesProduced() > 0) {
            emptyRecords = 0;
            if (refills) {
                emptyAllowance = Math.min(MAX_EMPTY_RECORD_BYTES, emptyAllowance + r.bytesConsumed());
            }
        } else if (r.bytesConsumed() > 0 && r.getStatus() == SSLEngineResult.Status.OK) {
            if (r.bytesConsumed() > MAX_SERVER_EMPTY_RECORD) {
                takeLongEmptyRecord(r.bytesConsumed());
            }
            if (++emptyRecords > MAX_EMPTY_RECORDS) {
                throw new SSLException("more than " + MAX_EMPTY_RECORDS
                        + " TLS records in a row without application data (key updates, empty records, alerts)");
            }
            emptyAllowance -= r.bytesConsumed();
            if (emptyAllowance < 0) {
                throw new SSLException("more than " + MAX_EMPTY_RECORD_BYTES + " bytes of TLS records without"
                        + " application data " + (refills ? "beyond those of the records with data" : "on this connection")
                        + " (key updates, session tickets)");
            }
        }
    }

    /**
     * Counts a record without data longer than {@link #MAX_SERVER_EMPTY_RECORD}: a server's fails at
     * once; a client's uses up {@link #longEmptyAllowance}, which the time since the last such
     * record refills first ({@link #MAX_CLIENT_LONG_EMPTY_BYTES}).
     */
    private void takeLongEmptyRecord(int bytes) throws SSLException {
        boolean client = engine.getUseClientMode();
        if (client) {
            long now = System.nanoTime();
            longEmptyAllowance = Math.min(MAX_CLIENT_LONG_EMPTY_BYTES,
                    longEmptyAllowance + (now - longEmptyCountedAt) / NANOS_PER_REFILLED_BYTE);
            longEmptyCountedAt = now;
        }
        longEmptyAllowance -= bytes;
        if (longEmptyAllowance < 0) {
            throw new SSLException(client
                    ? "TLS records without application data longer than " + MAX_SERVER_EMPTY_RECORD + " bytes: more"
                            + " than " + MAX_CLIENT_LONG_EMPTY_BYTES + " bytes of them at once, or "
                            + PADDED_RECORD_BYTES + " a minute after (handshake messages packed into records: a key"
                            + " update costs the client a key derivation or more)"
                    : "a TLS record of " + bytes + " bytes without application data, more than the "
                            + MAX_SERVER_EMPTY_RECORD + " a key update or an alert takes (handshake messages"
                            + " packed into one record: each costs the server a key derivation or more)");
        }
    }

    /** What the engine wants after an unwrap once the handshake is done: tasks, an answer, nothing else. */
    private void afterUnwrap(SSLEngineResult r) throws IOException {
        HandshakeStatus hs = r.getHandshakeStatus();
        if (hs == HandshakeStatus.NOT_HANDSHAKING || hs == HandshakeStatus.FINISHED) {
            return;
        }
        if (r.getStatus() == SSLEngineResult.Status.CLOSED || engine.getSession().getProtocol().equals("TLSv1.3")) {
            if (hs == HandshakeStatus.NEED_TASK) {
                runTasks(engine);
            }
            if (engine.getHandshakeStatus() == HandshakeStatus.NEED_WRAP) {
                output.answer();
            }
            return;
        }
        throw new SSLException("TLS renegotiation is not supported");
    }

    /** Whether {@link #netIn} holds a whole TLS record. */
    private boolean hasRecord() {
        ByteBuffer in = netIn;
        return in != null && in.remaining() >= RECORD_HEADER && in.remaining() >= RECORD_HEADER + recordLength(in);
    }

    /** The length the header at {@code in}'s position announces (it holds one). */
    private static int recordLength(ByteBuffer in) {
        int p = in.position();
        return ((in.get(p + 3) & 0xFF) << 8) | (in.get(p + 4) & 0xFF);
    }

    /**
     * Fails the read if the record at {@link #netIn}'s position, whole or in part, announces more
     * than TLS allows, or begins a renegotiation ({@link #refusesHandshakeRecords}). The latter is
     * refused at its first record, not once its messages are whole: the engine keeps the part of
     * a handshake message it has (up to 32 KiB) until the rest comes, bytes neither {@link #netIn}
     * nor the frame timeout ({@link #holdsPartialInput()}) see, so a peer that sent the first of
     * a ClientHello's records and nothing more kept them there, and its connection, for good.
     */
    private void checkRecordHeader() throws SSLException {
        ByteBuffer in = netIn;
        if (in == null || !in.hasRemaining()) {
            return;
        }
        if (refusesHandshakeRecords && in.get(in.position()) == HANDSHAKE) {
            throw new SSLException("TLS renegotiation is not supported");
        }
        if (in.remaining() >= RECORD_HEADER && recordLength(in) > MAX_RECORD_LENGTH) {
            throw new SSLException("a TLS record header announces " + recordLength(in)
                    + " bytes, more than the " + MAX_RECORD_LENGTH + " TLS allows");
        }
    }

    /**
     * Reads more encrypted bytes into {@link #netIn}. With nothing readable it first lets go of
     * what a wait need not hold ({@link #releaseIdleBuffers()}); then, with nothing in hand, it
     * waits for input — or, with {@code now}, returns 0 instead of waiting, there and in the read.
     *
     * @return bytes read, or -1 at end of stream
     */
    private int fill(long deadlineNanos, boolean now) throws IOException {
        if (released) {
            // A read after the end (an exit hook's): a buffer taken now would never be given back.
            throw new ClosedChannelException();
        }
        checkRecordHeader();
        // Several records per read once the handshake is done; before, one (a trickled hello holds
        // no more than that while the rest is waited for).
        boolean bulk = bulkReads && handshakeBytes < 0;
        if (!under.isReadable()) {
            releaseIdleBuffers(); // the wait, here or in the read below, holds one record's buffer at most
            if (netIn == null) {
                if (now) {
                    return 0;
                }
                under.awaitReadable(deadlineNanos);
            } else if (!now) {
                under.awaitReadable(deadlineNanos); // the rest of a record
                if (bulk && netIn.capacity() < TlsBuffers.BULK) {
                    netIn = TlsBuffers.move(netIn, 0, true); // it is coming: this read takes four records again
                }
            }
        }
        int packet = output.packetSize();
        if (netIn == null) {
            netIn = TlsBuffers.take(packet, bulk).flip();
        }
        if (netIn.limit() == netIn.capacity()) {
            if (netIn.capacity() < (bulk ? TlsBuffers.BULK : TlsBuffers.RECORD)) {
                // The one-record buffer of a wait for input, or the bytes' own of a wait for room
                // (parkBuffers), full: reads take a full buffer again.
                netIn = TlsBuffers.move(netIn, 0, bulk);
            } else if (netIn.position() > 0) {
                netIn.compact().flip();
            } else if (recordSize(netIn) > netIn.capacity()) {
                netIn = TlsBuffers.move(netIn, recordSize(netIn), false); // a record larger than the buffer: one of its size
            } else {
                netIn = TlsBuffers.grow(netIn, packet); // a whole record the engine did not take: room all the same
            }
        }
        int start = netIn.limit();
        int n = now ? under.readNow(netIn.array(), netIn.arrayOffset() + start, netIn.capacity() - start)
                : under.read(netIn.array(), netIn.arrayOffset() + start, netIn.capacity() - start, deadlineNanos);
        if (n > 0) {
            netIn.limit(start + n);
            if (handshakeBytes >= 0) {
                handshakeBytes += n;
            }
        }
        return n;
    }

    /** The records a write is sending, bytes left and their buffer's size, or null if none; for tests. */
    int @Nullable [] recordsInWrite() {
        return output.recordsInWrite();
    }

    /** The transport below; for tests. */
    Transport under() {
        return under;
    }

    /** The capacity of the encrypted input's buffer held now, 0 for none; for tests. */
    int readBufferCapacity() {
        ByteBuffer in = netIn;
        return in == null ? 0 : in.capacity();
    }

    /** The encrypted bytes received and not yet decrypted, held in {@link #netIn}; for tests. */
    int encryptedHeld() {
        ByteBuffer in = netIn;
        return in == null ? 0 : in.remaining();
    }

    /** The capacity of the decrypted input's buffer held now, 0 for none; for tests. */
    int appBufferCapacity() {
        ByteBuffer in = appIn;
        return in == null ? 0 : in.capacity();
    }

    /**
     * Before the reader waits: gives {@link #netIn} back if empty, and moves the part of a record
     * it holds out of a larger buffer into one record's (one of the record's own size if longer,
     * up to {@link #MAX_RECORD_LENGTH}), so that the wait for the rest holds what the peer sent,
     * not what a read could have taken. Before, the part of a record longer than one record's
     * buffer (which TLS 1.2 allows, and a peer can announce) stayed in the four records' one: 68 KiB
     * held until the frame timeout for 18 KiB sent.
     */
    private void releaseIdleBuffers() {
        if (netIn == null) {
            return;
        }
        if (!netIn.hasRemaining()) {
            TlsBuffers.give(netIn);
            netIn = null;
        } else {
            int keep = Math.max(TlsBuffers.RECORD, recordSize(netIn));
            if (netIn.capacity() > keep && netIn.remaining() <= keep) {
                netIn = TlsBuffers.move(netIn, keep, false);
            }
        }
    }

    /**
     * Before the reader waits for room for a put (its queue full, the outbound budget spent), not
     * for input: {@link #netIn} and {@link #appIn} keep only their bytes, in buffers of their size
     * ({@link TlsBuffers#park}), and an empty one goes back. Unlike {@link #releaseIdleBuffers()},
     * which keeps a larger buffer than one record's whenever its bytes need more than one record's
     * (a wait for input reads into it, and may take up to the record's end), this moves the bytes
     * of several records too: no read comes before the wait ends, so what is held is what the peer
     * sent and the reader has not taken, not what a read could take. Before, such a reader kept
     * its four records' buffer (68 KiB on a readiness transport) and a record's for decrypted bytes
     * (17 KiB) for the whole wait, uncounted: with 1,000 peers pipelining 40,000-byte frames that
     * never read, a 256 MiB epoll server ran out of heap. The next {@link #fill} moves the bytes
     * back to a full buffer; a read empties {@link #appIn} as before. Reads copy out of both, so no
     * view of them is live. Reader thread only.
     */
    @Override
    public void parkBuffers() {
        if (netIn != null) {
            netIn = TlsBuffers.park(netIn);
        }
        if (appIn != null) {
            appIn = TlsBuffers.park(appIn);
        }
        under.parkBuffers();
    }

    /**
     * The bytes of the record that begins at {@code in}'s position, header included, as its header
     * announces, but no more than TLS allows (a longer one fails at the next read's
     * {@link #checkRecordHeader()}, which may not have seen it yet); 0 while the header is not all in.
     */
    private static int recordSize(ByteBuffer in) {
        return in.remaining() < RECORD_HEADER ? 0 : RECORD_HEADER + Math.min(recordLength(in), MAX_RECORD_LENGTH);
    }

    /**
     * Gives {@link #netIn} and {@link #appIn} back, each once (the field is cleared as it goes),
     * then those of the transport below. A read after it fails instead of taking a buffer again
     * ({@link ClosedChannelException}): nothing would give that one back. The reader's own buffers, so only the reader may: at the
     * connection's end ({@link ConnectionInput#ended()}) or when the handshake failed
     * ({@link TlsLayer}). Writes take and give back buffers of their own ({@link TlsOutput}), so
     * a write still under way on another thread holds none of these.
     */
    @Override
    public void releaseBuffers() {
        dropInput();
        under.releaseBuffers();
    }

    /**
     * A graceful close's linger reads the peer's bytes below this layer, undecrypted, as they come
     * (see {@link Transport#discard}): what is held is dropped, and no read here takes a buffer
     * again (it fails). A {@code close_notify} already decrypted (with the peer's last data, by the
     * read that took it) is the end of stream at once, as a read would return it: discarded below,
     * the peer that sent it and keeps its TCP side open was waited for until it had been quiet.
     */
    @Override
    public int discard(byte[] sink, long deadlineNanos) throws IOException {
        boolean ended = inputClosed;
        dropInput();
        return ended ? -1 : under.discard(sink, deadlineNanos);
    }

    /** Gives back the buffers of the input, with what they hold; no read takes one again. */
    private void dropInput() {
        released = true;
        ByteBuffer in = netIn;
        netIn = null;
        if (in != null) {
            TlsBuffers.give(in);
        }
        ByteBuffer app = appIn;
        appIn = null;
        if (app != null) {
            TlsBuffers.give(app);
        }
    }

    @Override
    public boolean tellsReadiness() {
        return under.tellsReadiness();
    }

    @Override
    public boolean isReadable() {
        return appIn != null || inputClosed || failure != null || hasRecord() || under.isReadable();
    }

    @Override
    public boolean inputWaiting() {
        return appIn != null || netIn != null && netIn.hasRemaining() || under.inputWaiting();
    }

    @Override
    public void awaitReadable(long deadlineNanos) throws IOException {
        if (!isReadable()) {
            releaseIdleBuffers();
            under.awaitReadable(deadlineNanos);
        }
    }

    /** Decrypted bytes, a whole record, the end, or a failure to throw: a read returns without the transport below. */
    @Override
    public boolean holdsInput() {
        return appIn != null || inputClosed || failure != null || hasRecord();
    }

    /** See {@link #stopAwaitingInput()}. */
    @Override
    public boolean tookInputWhileClosing() {
        return tookWhileClosing;
    }

    /**
     * Part of a record and no whole one: encrypted bytes that decrypt to nothing yet. (The
     * transport below is the socket, or serves a PROXY header's leftover bytes: whole bytes.)
     */
    @Override
    public boolean holdsPartialInput() {
        return netIn != null && netIn.hasRemaining() && !hasRecord();
    }

    /**
     * Through the transport below, once nothing is left to read here: no decrypted bytes, no whole
     * record, so {@link #netIn} holds at most part of one. On the way into the wait (for this
     * reader's turn, on a readiness transport behind the sockets found ready meanwhile), it keeps
     * only those bytes, in a buffer of their size ({@link TlsBuffers#park}), or none, as a wait for
     * room does ({@link #parkBuffers()}); the next {@link #fill} moves them back to a full buffer
     * before it reads. Before, a reader giving way kept its four records' buffer (68 KiB on a
     * readiness transport, one record's on the JDK's) for the wait: at the peak of 1,000 TLS peers
     * pipelining 40,000-byte frames that never read, 358 readers of a 256 MiB epoll server waited
     * there, some 24 MB.
     */
    @Override
    public void giveWay(long deadlineNanos) throws IOException {
        if (!holdsInput()) {
            if (netIn != null) {
                netIn = TlsBuffers.park(netIn);
            }
            under.giveWay(deadlineNanos);
        }
    }

    /**
     * Calls back through the transport below, once nothing is left to read here: no decrypted
     * bytes, no whole record, no end seen. The reader does not ask while part of a record is held
     * ({@link #holdsPartialInput()}): it waits for the rest under the frame timeout.
     */
    @Override
    public boolean onReadable(Runnable action) {
        if (holdsInput()) {
            return false;
        }
        releaseIdleBuffers();
        return under.onReadable(action);
    }

    // ---------------------------------------------------------------- writes (TlsOutput)

    /** The transport below tells, before a write of records waits, whom {@link TlsOutput#writeWaits} names. */
    @Override
    public void onWriteWait(WriteWaits waits) {
        under.onWriteWait(output.writeWaits(waits));
    }

    @Override
    public void write(ByteBuffer[] srcs, int off, int len, long deadlineNanos) throws IOException {
        output.write(srcs, off, len, deadlineNanos);
    }

    /** Sends {@code close_notify}, then ends the output of the transport below (FIN); reads go on. */
    @Override
    public void shutdownOutput() throws IOException {
        output.shutdown(0);
    }

    @Override
    public void shutdownOutput(long deadlineNanos) throws IOException {
        output.shutdown(deadlineNanos);
    }

    // ---------------------------------------------------------------- state (any thread)

    /** The bytes the kernel holds unread: what decides whether a close would reset the connection. */
    @Override
    public int available() {
        return under.available();
    }

    /**
     * The decrypted bytes not yet read ({@link #appIn}). The bytes received and not decrypted
     * ({@link #netIn}, and those below) are not counted: a record decrypts to less than it is long
     * (its header, tag and padding), or to nothing (a key update, a ticket, an empty record), and a
     * peer chooses how much less; the inbound budget must not hold room for plain bytes it has not sent.
     */
    @Override
    public int availableToRead() {
        ByteBuffer in = appIn;
        return in == null ? 0 : in.remaining();
    }

    @Override
    public boolean isOpen() {
        return under.isOpen();
    }

    @Override
    public void close() {
        under.close();
    }

    @Override
    public String name() {
        return name;
    }
}
