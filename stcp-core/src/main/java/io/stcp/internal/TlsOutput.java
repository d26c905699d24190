package io.stcp.internal;

import io.stcp.WriteTimeoutException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import org.jspecify.annotations.Nullable;

/**
 * The sending side of a {@link TlsTransport}: wraps (encrypts) the caller's bytes, and whatever
 * the {@link SSLEngine} must send on its own — the handshake's messages, alerts, a TLS 1.3 key
 * update's answer, TLS 1.2's answering {@code close_notify} — and writes the records to the
 * transport below.
 *
 * <p><b>Threads.</b> {@link #write} and {@link #shutdown} come from one thread at a time (the
 * connection serializes them); the reader thread sends the engine's own messages (during the
 * handshake and after an unwrap). All of it is wrapped and written under {@link #wrapLock}, so
 * records go out whole and in order; the reader's unwraps run beside it ({@code SSLEngine}
 * allows a wrap during an unwrap).
 *
 * <p><b>Answers after an unwrap</b> ({@link #answer}) never wait for the lock: a write that holds
 * it may itself be waiting for a peer that reads nothing, and the reader would stop reading until
 * the write timeout. The reader marks the answer owed and sends it only if it gets the lock at
 * once; every holder, once it has let go, sends an answer owed meanwhile. The mark is set before
 * the reader tries the lock and read after a holder lets go (both volatile), so either the reader
 * gets the lock or the holder sees the mark.
 *
 * <p><b>Failure.</b> Once a write to the transport below has failed ({@link #failed}), records may
 * have gone out in part, so nothing more may follow them: every later write, answer and
 * {@code close_notify} throws at once, saying so (a {@link WriteTimeoutException} after one, so
 * that the connection closes as for its own). A write whose wrap says CLOSED writes what that wrap
 * produced before it fails: TLS 1.2's answering {@code close_notify}, if the reader read the
 * peer's while the write held the lock — once produced, the engine has no other copy.
 *
 * <p><b>Buffer.</b> netOut: encrypted bytes being written, four records large (one write for up
 * to four records), taken from {@link TlsBuffers} per write and given back after it; records
 * whose write waits for room move to a buffer of their size first ({@link #moveUnsent}).
 */
final class TlsOutput {
    private static final ByteBuffer[] NOTHING = {ByteBuffer.allocate(0)};

    private final Transport under;
    private final SSLEngine engine;
    private final LongSupplier writeTimeoutNanos;
    /**
     * The session's packet buffer size, which sizes the reader's buffers too; read again once the
     * handshake is done ({@link #handshakeDone()}), as asking the engine takes its locks.
     */
    private volatile int packetSize;

    private final ReentrantLock wrapLock = new ReentrantLock();
    private final ByteBuffer[] outArray = new ByteBuffer[1]; // guarded by wrapLock
    private boolean closingOutput;                            // guarded by wrapLock: close_notify asked for
    private volatile boolean answerOwed;                      // the reader left the engine's answer to the lock's holder
    private IOException failed;                               // guarded by wrapLock: the first write below that failed
    private final Taken taken = new Taken();                  // guarded by wrapLock
    private int takenBeforeFailure;                           // guarded by wrapLock: of the records that failed
    private ByteBuffer[] writing;                             // guarded by wrapLock: the caller's buffers in write(), else null
    private int writingOff;                                   // guarded by wrapLock
    private int writingEnd;                                   // guarded by wrapLock
    private ByteBuffer moving;                                // guarded by wrapLock: write()'s records in flush, which moveUnsent may move
    private boolean moved;                                    // guarded by wrapLock: they moved, and that buffer went back
    private int movedSent;                                    // guarded by wrapLock: the bytes of it sent before they moved

    /** @param writeTimeoutNanos the connection's write timeout, for what the engine must send on its own */
    TlsOutput(Transport under, SSLEngine engine, LongSupplier writeTimeoutNanos) {
        this.under = under;
        this.engine = engine;
        this.writeTimeoutNanos = writeTimeoutNanos;
        this.packetSize = engine.getSession().getPacketBufferSize();
    }

    int packetSize() {
        return packetSize;
    }

    /** The handshake is done: the session's packet size is settled. */
    void handshakeDone() {
        packetSize = engine.getSession().getPacketBufferSize();
    }

    /**
     * See {@link Transport#write}: the caller's buffers show what went out — on a failure, the
     * bytes of the records the transport below took whole, not those wrapped but not (or only in
     * part) sent, which the caller's count of bytes written and its sender's of messages written
     * would otherwise take for sent ({@link Taken}).
     */
    void write(ByteBuffer[] srcs, int off, int len, long deadlineNanos) throws IOException {
        int end = off + len;
        wrapLock.lock();
        ByteBuffer out = null;
        try {
            checkOutput();
            writing = srcs;
            writingOff = off;
            writingEnd = end;
            taken.begin(srcs, off, end);
            int packet = packetSize;
            out = TlsBuffers.take(packet, true);
            while ((off = Transport.firstRemaining(srcs, off, end)) < end) {
                SSLEngineResult r = engine.wrap(srcs, off, end - off, out);
                taken.wrapped(out.position(), srcs, off, end);
                switch (r.getStatus()) {
                    case OK -> {
                        if (r.bytesConsumed() == 0 && r.bytesProduced() == 0) {
                            throw new SSLException("TLS engine stalled (" + r.getHandshakeStatus() + ")");
                        }
                        if (out.remaining() < packet) {
                            out = flushRecords(out, deadlineNanos, srcs);
                        }
                    }
                    case BUFFER_OVERFLOW -> {
                        if (out.position() > 0) {
                            out = flushRecords(out, deadlineNanos, srcs);
                        } else {
                            out = flushOrGrow(out, deadlineNanos); // grows: nothing to flush
                        }
                    }
                    case CLOSED -> {
                        out = flushRecords(out, deadlineNanos, srcs); // what it produced: the answering close_notify, maybe
                        throw new ClosedChannelException(); // after close_notify: nothing more goes out
                    }
                    case BUFFER_UNDERFLOW -> throw new IllegalStateException("wrap: " + r);
                }
            }
            out = flushRecords(out, deadlineNanos, srcs);
        } finally {
            writing = null;
            if (out != null && !moved) { // moved: a flush that failed gave it back as its records moved
                TlsBuffers.give(out);
            }
            moved = false;
            wrapLock.unlock();
        }
        sendOwedAnswer();
    }

    /**
     * What the transport below tells before a write of records waits for room: {@code above} is
     * told of the caller's buffers not all wrapped yet, during a {@link #write} (those of its
     * bytes wrapped are in the records); not while the engine's own messages go out (the handshake,
     * an answer after an unwrap, which the reader sends from inside a read, {@code close_notify}).
     */
    WriteWaits writeWaits(WriteWaits above) {
        return (records, off, end) -> {
            ByteBuffer[] srcs = writing; // the writing thread's own, under wrapLock
            if (srcs != null) {
                above.beforeWait(srcs, writingOff, writingEnd);
                moveUnsent(records, off);
            }
        };
    }

    /**
     * The records of a {@link #write} wait for room in {@code records[at]}: the bytes not sent
     * move to a buffer of their size and the pooled one, four records large, goes back
     * ({@link TlsBuffers#park}), so that a write blocked on a peer that does not read holds what
     * it has to send, not the buffer it was wrapped into; the flush goes on with the new one, and
     * the write takes a pooled one again for what it wraps next. Once per flush, on the way into
     * its first wait; under the lock, on the writing thread.
     */
    private void moveUnsent(ByteBuffer[] records, int at) {
        ByteBuffer b = records[at];
        if (b != moving || moved) {
            return;
        }
        int sent = b.position();
        ByteBuffer kept = TlsBuffers.park(b); // not null: a write waits with bytes left
        if (kept != b) {
            records[at] = kept;
            movedSent = sent;
            moved = true;
        }
    }

    /** The records a write is sending, bytes left and the buffer's size, or null if none; for tests. */
    int @Nullable [] recordsInWrite() {
        ByteBuffer b = outArray[0];
        return b == null ? null : new int[] {b.remaining(), b.capacity()};
    }

    /**
     * After an unwrap (reader thread): sends what the engine must answer on its own — a TLS 1.3 key
     * update's answer, TLS 1.2's answering {@code close_notify} — now if the lock is free, else
     * leaves it to the lock's holder, which sends it once it lets go (see the class comment).
     */
    void answer() throws IOException {
        answerOwed = true;
        sendOwedAnswer();
    }

    /** Sends an owed answer, unless another thread holds the lock: then that thread does, after. */
    private void sendOwedAnswer() throws IOException {
        while (answerOwed && !wrapLock.isHeldByCurrentThread() && wrapLock.tryLock()) {
            try {
                answerOwed = false;
                flushEngine(writeDeadline());
            } finally {
                wrapLock.unlock();
            }
        }
    }

    /**
     * Wraps and writes what the engine must send on its own (handshake messages, alerts,
     * close_notify): while it asks for a wrap, or until close_notify is out once it is closing.
     *
     * @return the bytes written
     */
    int flushEngine(long deadlineNanos) throws IOException {
        wrapLock.lock();
        ByteBuffer out = null;
        int produced = 0;
        try {
            checkOutput();
            out = TlsBuffers.take(engine.getSession().getPacketBufferSize());
            while (engine.getHandshakeStatus() == HandshakeStatus.NEED_WRAP
                    || (closingOutput && !engine.isOutboundDone())) {
                SSLEngineResult r = engine.wrap(NOTHING, out);
                if (r.getStatus() == SSLEngineResult.Status.BUFFER_OVERFLOW) {
                    out = flushOrGrow(out, deadlineNanos);
                    continue;
                }
                if (r.getHandshakeStatus() == HandshakeStatus.NEED_TASK) {
                    TlsTransport.runTasks(engine);
                }
                if (r.bytesProduced() == 0) {
                    break; // nothing more to send
                }
                produced += r.bytesProduced();
            }
            flush(out, deadlineNanos);
        } finally {
            if (out != null) {
                TlsBuffers.give(out);
            }
            wrapLock.unlock();
        }
        sendOwedAnswer();
        return produced;
    }

    private ByteBuffer flushOrGrow(ByteBuffer out, long deadlineNanos) throws IOException {
        if (out.position() > 0) {
            flush(out, deadlineNanos);
            return out;
        }
        ByteBuffer bigger = ByteBuffer.allocate(Math.max(2 * out.capacity(), engine.getSession().getPacketBufferSize()));
        TlsBuffers.give(out);
        return bigger;
    }

    /**
     * {@link #flush} of the records {@link #write} wrapped; on a failure, the caller's buffers show
     * what went out whole.
     *
     * @return the buffer to wrap into next: {@code out}, cleared, or a new one if the records moved
     *     out of it while the flush waited ({@link #moveUnsent}: {@code out} went back then)
     */
    private ByteBuffer flushRecords(ByteBuffer out, long deadlineNanos, ByteBuffer[] srcs) throws IOException {
        moving = out;
        try {
            flush(out, deadlineNanos);
        } catch (IOException e) {
            taken.failed(srcs, takenBeforeFailure);
            throw e;
        } finally {
            moving = null;
        }
        taken.flushed();
        if (moved) {
            moved = false;
            return TlsBuffers.take(packetSize, true);
        }
        return out;
    }

    /**
     * Writes what {@code out} (write mode) holds, and clears it, unless its records moved while the
     * write waited ({@link #moveUnsent}): then it went back, and the buffer they moved to goes now.
     * A failure is {@link #failed}'s.
     */
    private void flush(ByteBuffer out, long deadlineNanos) throws IOException {
        if (out.position() == 0) {
            return;
        }
        out.flip();
        outArray[0] = out;
        movedSent = 0;
        try {
            under.write(outArray, 0, 1, deadlineNanos);
        } catch (IOException e) {
            failed = e;
            takenBeforeFailure = movedSent + outArray[0].position(); // the transport below moves it past what it took
            throw e;
        } finally {
            ByteBuffer sent = outArray[0];
            outArray[0] = null;
            if (sent == out) {
                out.clear();
            } else {
                TlsBuffers.give(sent); // of a pooled size only if it was taken as one (TlsBuffers.park)
            }
        }
    }

    /** Throws if a write below has failed ({@link #failed}); under the lock. */
    private void checkOutput() throws IOException {
        IOException f = failed;
        if (f == null) {
            return;
        }
        String m = "an earlier write of TLS records failed, so nothing more can be sent (" + f + ")";
        IOException e = f instanceof WriteTimeoutException ? new WriteTimeoutException(m)
                : f instanceof ClosedChannelException ? new ClosedChannelException()
                : new IOException(m);
        e.initCause(f);
        throw e;
    }

    /** Sends the alert the engine holds after a failed handshake, within a short while; never throws. */
    void sendAlert(long deadlineNanos) {
        try {
            wrapLock.lock();
            try {
                engine.closeOutbound();
                closingOutput = true;
            } finally {
                wrapLock.unlock();
            }
            flushEngine(deadlineNanos);
        } catch (IOException | RuntimeException e) {
            // best effort: the connection closes anyway
        }
    }

    /**
     * Sends {@code close_notify}, then ends the output of the transport below (FIN). It waits for
     * room for {@code close_notify} until the write timeout or {@code deadlineNanos} (0: none),
     * whichever comes first: a graceful close does not outlast its own deadline for it.
     */
    void shutdown(long deadlineNanos) throws IOException {
        wrapLock.lock();
        try {
            if (!engine.isOutboundDone()) {
                engine.closeOutbound();
                closingOutput = true;
                flushEngine(Nanos.earliest(deadlineNanos, writeDeadline()));
            }
            under.shutdownOutput();
        } finally {
            wrapLock.unlock();
        }
        sendOwedAnswer();
    }

    /** A deadline one write timeout from now (without a write timeout, as good as none), for what the engine sends on its own. */
    long writeDeadline() {
        long t = writeTimeoutNanos.getAsLong();
        return Nanos.deadline(System.nanoTime(), t == 0 ? Nanos.FOREVER - 1 : t);
    }
}
