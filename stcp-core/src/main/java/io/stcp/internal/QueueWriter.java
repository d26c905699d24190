package io.stcp.internal;

import io.stcp.CloseReason;
import io.stcp.Connection;
import io.stcp.QueueFullException;
import io.stcp.SenderClosedException;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;

/**
 * The writing side of a {@link io.stcp.QueueSender}: the send thread, which writes its
 * {@link SendQueue} in batches, one write each (a gathering write, or several small messages
 * joined into one pooled array); the reader's inline writes; and the sender's end, where what was
 * not written is discarded and counted.
 *
 * <p><b>Send thread.</b> Runs only while there is something to write: the put that gets the
 * queue's write token for it starts it ({@link #start()}), and it ends when it finds the queue
 * empty (giving the token back) or when a write fails (ending the connection). A batch it takes
 * stays charged to the server's outbound budget while it writes it: its next call to the queue
 * ({@link SendQueue#drain}, {@link SendQueue#releaseInline}), made once the write returned, gives
 * it back; a close of the queue does so for a write that fails.
 *
 * <p><b>Replies written by the reader</b> ({@link io.stcp.QueueSender.Options#batchReplies}). A
 * put of less than {@value #OWED_BELOW} bytes from the connection's reader that gets the token
 * for a send thread may instead leave the token with the reader ({@link #startOrOwe(boolean, long)}):
 * the drain is then <i>owed</i> by the reader, and recorded in its {@link ConnectionInput}. The
 * reader pays it — writes one batch itself ({@link #payOwed()}), and starts a send thread only if
 * more is queued by then — before anything that could wait: before its input waits for bytes or
 * it suspends, before it waits for room in the inbound budget ({@link InboundBudget}, "Owed
 * drains"), before a put of its own that is large, could wait for room, or finds a batch's
 * worth queued ({@link #beforeReaderPut}), before it waits for the queue to be written, before a
 * fan-out of its waits for room in any queue, before a put of its into any queue — another
 * connection's too — waits for room or for the server's outbound budget, or fails on that budget
 * ({@link OwingReader}), and at its end. States, all on the reader thread: none → owed (a put) →
 * none (paid).
 *
 * <p><b>Lent replies.</b> While it owes the drain, the reader may queue a reply that is a region
 * of its own read buffer ({@link #queueLent}), with no copy. Only the reader writes it: paying the
 * drain writes batches until no lent reply is queued, and the reader pays before it reuses the
 * buffer ({@link ConnectionInput}).
 *
 * <p><b>Counts.</b> Every message a put accepted is, once the sender has closed, written,
 * conflated or dropped (the queue counts those two), or discarded: by a close, by a slow
 * consumer's disconnect, or lost with a write that failed. A discarded message is also
 * <i>unreported</i> until a close returns it, so that each is reported once. What a close of the
 * queue discards is counted under the queue's lock ({@link SendQueue#countDiscardsIn}): a closer
 * that finds the queue closed by another, and ends the connection, finds those counted too.
 *
 * <p><b>Thread safety.</b> Any method from any thread; the counters and the closed flag are
 * atomics, and the queue's write token keeps the writes in order.
 */
public final class QueueWriter {
    private static final int MAX_BATCH = Transport.MAX_BUFFERS_PER_CALL;
    private static final int INITIAL_BATCH = 16;
    /** A batch stops growing past this many bytes, bounding the JDK's temporary direct buffers. */
    private static final long MAX_BATCH_BYTES = 256 * 1024;
    /**
     * A put this large is never left to the reader: written by the reader, a large reply would
     * hold it until the peer has read it, and a few peers pipelining large frames would take the
     * server in turns (at 100 connections × 4 × 1 MiB, p99 5.0 s against 0.8 with a send thread).
     */
    private static final long OWED_BELOW = 64 * 1024;
    /**
     * A batch of several arrays (messages, or a message's parts) this short in all is copied into
     * one pooled array and written with one plain write: cheaper than a gathering write of many
     * small buffers, each of which the JDK copies into a temporary direct buffer of its own.
     */
    private static final int JOINED_BYTES = ReadBuffers.SIZE;
    private static final Duration FAILED_WRITE_GRACE = Duration.ofSeconds(1);
    private static final VarHandle CLOSED = Fields.handle(MethodHandles.lookup(), "closed", boolean.class);
    private static final VarHandle WRITTEN = Fields.handle(MethodHandles.lookup(), "written", long.class);
    private static final VarHandle DISCARDED = Fields.handle(MethodHandles.lookup(), "discarded", long.class);
    private static final VarHandle UNREPORTED = Fields.handle(MethodHandles.lookup(), "unreported", int.class);

    private final Connection connection;
    private final SendQueue queue;
    // Plain fields through VarHandles rather than atomic objects: a connection's memory counts.
    private volatile boolean closed;
    private volatile long written;
    private volatile long discarded;
    /** Messages discarded (for any reason) and not yet returned by {@link #close()}. */
    private volatile int unreported;

    public QueueWriter(Connection connection, SendQueue queue) {
        this.connection = Objects.requireNonNull(connection, "connection");
        this.queue = Objects.requireNonNull(queue, "queue");
        queue.countDiscardsIn(this::discard);
    }

    /**
     * Starts the send thread; the queue gave the caller the write token for it.
     *
     * @throws SenderClosedException if no thread can be started: the queue is discarded and the
     *     connection closed
     */
    public void start() {
        try {
            Threads.start("stcp-conn-" + connection.id() + "-send", this::drainLoop);
        } catch (Throwable t) {
            // No thread (out of memory, say): nothing can be written, so the connection ends.
            queue.abandon(); // what it held is counted discarded
            connection.close(CloseReason.FAILED);
            throw new SenderClosedException("cannot start the send thread (" + t + "); the queue is discarded");
        }
    }

    /**
     * Starts the send thread, or, for a put from the connection's reader that asked for it (see
     * the class comment), leaves the token with the reader, who owes the drain.
     *
     * @param reader the put comes from the connection's reader thread and replies are batched
     * @param length the put's bytes (Long.MAX_VALUE: several messages): a large one is not left to the reader
     */
    public void startOrOwe(boolean reader, long length) {
        if (reader && length < OWED_BELOW && connection instanceof RealConnection rc && rc.input().oweDrain(this)) {
            return;
        }
        start();
    }

    /**
     * Before a put of {@code length} bytes from the connection's reader: if it owes the drain and
     * the put is large, could wait for room, or a batch's worth is queued, it writes a batch first.
     */
    public void beforeReaderPut(long length) {
        if (connection instanceof RealConnection rc && rc.input().owesDrain(this)
                && (length >= OWED_BELOW || !queue.roomWithinBatch(length, MAX_BATCH_BYTES))) {
            rc.input().payOwedDrain();
        }
    }

    /**
     * The reader pays the drain it owes: one batch written on its thread (the token is held for
     * it), then the token given back, or passed to a send thread for what was queued meanwhile.
     */
    void payOwed() {
        int batch = Math.min(MAX_BATCH, Math.max(INITIAL_BATCH, queue.queuedCount()));
        boolean held;
        do {
            held = drainBatches(1, batch);
        } while (held && queue.holdsLent()); // no send thread may write the reader's buffer
        if (held && queue.releaseInline()) {
            start();
        }
    }

    /** Whether replies lent from the reader's read buffer are queued, not yet taken for a write. */
    boolean holdsLent() {
        return queue.holdsLent();
    }

    /**
     * Queues a reply lent from the reader's read buffer ({@link ConnectionInput#lendBuffered}) for
     * the drain the reader owes, or takes on now: the reader writes it before its buffer changes.
     * Reader thread only.
     *
     * @return false, with nothing queued, when the drain is not the reader's to owe (a send thread
     *     or another sender has it, the transport cannot tell readiness, the reply is large, or the
     *     queue has no room for it): the caller copies the reply instead
     */
    public boolean queueLent(ByteBuffer reply) {
        if (!(connection instanceof RealConnection rc) || reply.remaining() >= OWED_BELOW) {
            return false;
        }
        ConnectionInput input = rc.input();
        boolean owed = input.owesDrain(this);
        if (!owed && !input.mayOweDrain()) {
            return false;
        }
        int result = queue.putLent(reply, owed);
        if (result == SendQueue.NOT_LENT) {
            return false;
        }
        if (result == SendQueue.QUEUED_START_DRAINER) {
            input.oweDrain(this); // may: asked above, on this thread
        }
        input.lent(reply);
        return true;
    }

    /**
     * The connection's reader replying while nothing is queued or being written and no more input
     * is waiting: it writes the message itself instead of waking the send thread (one thread
     * switch less per message; the write timeout applies as usual). With input waiting the reader
     * has more requests to answer at once, so the reply queues and the send thread writes the
     * whole batch with one write. The caller holds the token of
     * {@link SendQueue#tryClaimInline()}; this gives it back. A write that fails ends the
     * connection as the send thread's would: the message was accepted, so it is counted discarded
     * (for {@link #close()} to report) and the put returns; the sender is closed, so the next put
     * throws {@link SenderClosedException}, and the reason is the write's ({@link Ends#classifySend}).
     */
    public void writeInline(byte[] bytes) {
        writeInline(bytes, 0, bytes.length);
    }

    /** {@link #writeInline(byte[])} for {@code bytes[off .. off+len)}, written before this returns. */
    public void writeInline(byte[] bytes, int off, int len) {
        try {
            connection.write(bytes, off, len);
            WRITTEN.getAndAdd(this, 1L);
        } catch (IOException e) {
            inlineFailed(e);
        } finally {
            releaseInline();
        }
    }

    /** {@link #writeInline(byte[])} for a message of several arrays, written with one gathering write. */
    public void writeInline(byte[][] parts) {
        try {
            ByteBuffer[] buffers = new ByteBuffer[parts.length];
            for (int i = 0; i < parts.length; i++) {
                buffers[i] = ByteBuffer.wrap(parts[i]);
            }
            writeCounted(buffers);
        } finally {
            releaseInline();
        }
    }

    /** {@link #writeInline(byte[])} for a message held off the heap ({@link SendQueue#packBuffered}); released once done with. */
    public void writeInline(DirectMessage message) {
        try {
            ByteBuffer[] buffers = new ByteBuffer[message.chunkCount()];
            message.buffers(buffers, 0);
            writeCounted(buffers);
        } finally {
            message.release();
            releaseInline();
        }
    }

    /** An inline write of one whole message, counted written, or discarded with the sender closed if it failed. */
    private void writeCounted(ByteBuffer[] buffers) {
        try {
            write(buffers, buffers.length);
            WRITTEN.getAndAdd(this, 1L);
        } catch (IOException e) {
            inlineFailed(e);
        }
    }

    /**
     * Writes {@code buffers[0 .. n)}: arrays and chunks of this writer's messages, which it holds
     * until the write returns, so the transport may write the chunks without holding their memory.
     */
    private void write(ByteBuffer[] buffers, int n) throws IOException {
        if (connection instanceof RealConnection rc) {
            rc.writeOwned(buffers, 0, n);
        } else {
            connection.write(buffers, 0, n);
        }
    }

    /**
     * An inline write failed: its message is discarded, the connection closed for the write's
     * reason and the sender with it. What was discarded stays unreported, for the sender's
     * {@link #close()} to report.
     */
    private void inlineFailed(IOException e) {
        discard(1);
        closeUnreported(Ends.classifySend(e));
    }

    /** Gives the inline token back, and starts the send thread for messages queued meanwhile. */
    private void releaseInline() {
        if (queue.releaseInline()) {
            start();
        }
    }

    /**
     * The send thread: holds the write token from the put that started it and writes the queue in
     * batches, one write each, until it finds the queue empty (giving the token back)
     * or a write fails (ending the connection).
     */
    private void drainLoop() {
        drainBatches(Integer.MAX_VALUE, INITIAL_BATCH);
    }

    /**
     * Writes up to {@code maxBatches} batches, holding the write token, the first of at most
     * {@code firstBatch} messages; see {@link #drainLoop()}.
     *
     * @return true if it stopped at {@code maxBatches} with the token still held; false when it gave
     *     the token back (the queue was empty) or a write failed
     */
    private boolean drainBatches(int maxBatches, int firstBatch) {
        Object[] batch = null;
        ByteBuffer[] buffers = null;
        int n = 0;
        int arrays = 0;
        byte[] joined = null;
        try {
            // Inside the try: even these failing (out of memory) give the token back, through the catch.
            batch = new Object[firstBatch];
            buffers = new ByteBuffer[firstBatch];
            while ((n = queue.drain(batch, MAX_BATCH_BYTES, Math.max(buffers.length, MAX_BATCH))) > 0) {
                arrays = 0; // nothing of this batch offered yet: a failure before the write loses all of it
                if ((n > 1 || batch[0] instanceof byte[][]) && fitsJoined(batch, n)) {
                    byte[] into = ReadBuffers.take(false);
                    buffers[0] = ByteBuffer.wrap(into, 0, join(batch, n, into));
                    joined = into;
                    arrays = 1;
                } else {
                    for (int i = 0; i < n; i++) {
                        int k = BoundedQueue.arrays(batch[i]);
                        if (arrays + k > buffers.length) {
                            buffers = Arrays.copyOf(buffers, Math.max(2 * buffers.length, arrays + k));
                        }
                        arrays = addBuffers(batch[i], buffers, arrays);
                    }
                }
                write(buffers, arrays);
                WRITTEN.getAndAdd(this, (long) n);
                if (joined != null) {
                    ReadBuffers.give(joined);
                    joined = null;
                }
                release(batch, n);
                Arrays.fill(buffers, 0, arrays, null);
                Arrays.fill(batch, 0, n, null);
                boolean full = n == batch.length;
                n = 0; // written: a failure from here on (even growing the batch) loses nothing of it
                if (--maxBatches == 0) {
                    return true;
                }
                if (full && batch.length < MAX_BATCH) {
                    batch = new Object[batch.length * 2];
                }
            }
            return false;
        } catch (Throwable e) {
            // Messages taken for this batch but not (fully) written are lost with the connection.
            int unwritten = joined != null
                    ? unwrittenJoined(batch, n, buffers[0].position())
                    : unwritten(batch, n, buffers, arrays);
            WRITTEN.getAndAdd(this, (long) (n - unwritten));
            release(batch, n);
            discard(unwritten);
            queue.abandon(); // what it held is counted discarded before the token is free: a graceful drain waits for it
            connection.close(Ends.classifySend(e));
            return false;
        }
    }

    /** Puts the buffers {@code message} is written from into {@code into} from {@code at}; returns the next index. */
    private static int addBuffers(Object message, ByteBuffer[] into, int at) {
        if (message instanceof byte[][] parts) {
            for (byte[] p : parts) {
                into[at++] = ByteBuffer.wrap(p);
            }
            return at;
        }
        if (message instanceof DirectMessage d) {
            d.buffers(into, at);
            return at + d.chunkCount();
        }
        into[at] = message instanceof ByteBuffer lent ? lent : ByteBuffer.wrap((byte[]) message);
        return at + 1;
    }

    /** Gives the chunks of the batch's direct messages back: they are written, or lost with the connection. */
    private static void release(Object[] batch, int n) {
        for (int i = 0; i < n; i++) {
            BoundedQueue.release(batch[i]);
        }
    }

    /**
     * Whether the first {@code n} messages of a batch fit in one {@link #JOINED_BYTES} buffer; never
     * with a message held in direct memory or lent from the read buffer, which is written from there.
     */
    private static boolean fitsJoined(Object[] batch, int n) {
        long total = 0;
        for (int i = 0; i < n && total <= JOINED_BYTES; i++) {
            if (batch[i] instanceof DirectMessage || batch[i] instanceof ByteBuffer) {
                return false;
            }
            total += BoundedQueue.length(batch[i]);
        }
        return total <= JOINED_BYTES;
    }

    /** Copies the first {@code n} messages of a batch, in order, into {@code into}; returns their length. */
    private static int join(Object[] batch, int n, byte[] into) {
        int at = 0;
        for (int i = 0; i < n; i++) {
            if (batch[i] instanceof byte[][] parts) {
                for (byte[] p : parts) {
                    System.arraycopy(p, 0, into, at, p.length);
                    at += p.length;
                }
            } else {
                byte[] b = (byte[]) batch[i];
                System.arraycopy(b, 0, into, at, b.length);
                at += b.length;
            }
        }
        return at;
    }

    /** The messages of a failed joined batch that end past the {@code written} bytes. */
    private static int unwrittenJoined(Object[] batch, int n, int written) {
        long end = 0;
        for (int i = 0; i < n; i++) {
            end += BoundedQueue.length(batch[i]);
            if (end > written) {
                return n - i;
            }
        }
        return 0;
    }

    /**
     * The messages of a failed batch with bytes left in their buffers, or not given buffers at all
     * (the failure came before the write: only the first {@code arrays} buffers were set).
     */
    private static int unwritten(Object[] batch, int n, ByteBuffer[] buffers, int arrays) {
        int unwritten = 0;
        int b = 0;
        for (int i = 0; i < n; i++) {
            int k = BoundedQueue.arrays(batch[i]);
            boolean left = b + k > arrays;
            for (int j = 0; j < k && b < arrays; j++, b++) {
                left |= buffers[b].hasRemaining();
            }
            unwritten += left ? 1 : 0;
        }
        return unwritten;
    }

    /**
     * A put found a slow consumer (the CLOSE_CONNECTION policy; the queue counted what it
     * discarded): closes the connection.
     *
     * @return the exception the put throws, saying which limit was reached
     */
    public QueueFullException slowConsumer(SlowConsumerException e) {
        JfrEvents.slowConsumer(connection, e.discarded());
        if (CLOSED.compareAndSet(this, false, true)) {
            connection.close(CloseReason.SLOW_CONSUMER);
        }
        return new QueueFullException("slow consumer: " + e.getMessage() + ", connection closed");
    }

    /**
     * Closes the queue and the connection, discarding what is queued. On the connection's reader
     * thread — the runner's end, before the exit line and the exit hooks — it also waits (at most
     * {@link #FAILED_WRITE_GRACE}) for a write under way, which the close makes fail: its batch is
     * then counted here, and no thread of this sender still writes when the exit hooks run. Other
     * threads (a server stopping many connections, say) do not wait.
     *
     * @return how many accepted messages were discarded and not reported before
     */
    public int close() {
        closeUnreported(CloseReason.CLOSED);
        if (payOwedDrainIfReader()) { // counted discarded: the connection is closed
            awaitWritten(Nanos.within(FAILED_WRITE_GRACE));
        }
        return (int) UNREPORTED.getAndSet(this, 0);
    }

    /**
     * Closes the queue and the connection (for {@code reason}, unless one is recorded), counting
     * what is discarded, but leaves it to {@link #close()} to report.
     */
    private void closeUnreported(CloseReason reason) {
        discardQueue();
        if (CLOSED.compareAndSet(this, false, true)) {
            connection.close(reason);
        }
    }

    /**
     * The sender's part of a graceful close ({@link Connection.Drain}): stop, and wait for the
     * send thread to write what is queued; at the deadline, discard the rest and close the socket
     * under a blocked write.
     *
     * @return what was discarded and not reported before, reported now (as {@link #close()} reports
     *     it): the graceful close's caller is told it, and a close of the sender after that close
     *     is over finds none of it
     */
    public int drain(Duration timeout) {
        payOwedDrainIfReader();
        queue.closeGracefully();
        if (!awaitWritten(Nanos.within(timeout))) {
            discardQueue();
            connection.close();
            awaitWritten(Nanos.within(FAILED_WRITE_GRACE)); // the failed write counts its batch
        }
        return (int) UNREPORTED.getAndSet(this, 0);
    }

    /**
     * On the connection's reader thread, pays the drain it owes first, or a wait for the write token
     * would wait for it; whether this is the reader thread.
     */
    private boolean payOwedDrainIfReader() {
        if (connection instanceof RealConnection rc && rc.isReaderThread()) {
            rc.input().payOwedDrain();
            return true;
        }
        return false;
    }

    private boolean awaitWritten(long deadlineNanos) {
        try {
            return queue.awaitWritten(deadlineNanos); // a failed write counts its batch before it closes the queue
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Closes the queue; what it still held is counted discarded. */
    private void discardQueue() {
        queue.close();
    }

    private void discard(int n) {
        if (n > 0) {
            DISCARDED.getAndAdd(this, (long) n);
            UNREPORTED.getAndAdd(this, n);
        }
    }

    public boolean isClosed() {
        return closed || !queue.isOpen();
    }

    /** Messages written to the connection. */
    public long written() {
        return written;
    }

    /** Accepted messages that were never written. */
    public long discarded() {
        return discarded;
    }
}
