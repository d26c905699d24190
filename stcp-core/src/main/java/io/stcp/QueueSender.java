package io.stcp;

import io.stcp.internal.ActingReader;
import io.stcp.internal.DirectChunks;
import io.stcp.internal.DirectMessage;
import io.stcp.internal.FanoutPut;
import io.stcp.internal.JfrEvents;
import io.stcp.internal.KeyedBatch;
import io.stcp.internal.Nanos;
import io.stcp.internal.QueueLimits;
import io.stcp.internal.QueueWriter;
import io.stcp.internal.RealConnection;
import io.stcp.internal.RoomWatch;
import io.stcp.internal.SendQueue;
import io.stcp.internal.SlowConsumerException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A sender with a FIFO queue (Go: {@code QSender}): puts return at once, and a send thread writes
 * everything queued with one gathering write per batch, in order. The send thread runs only while
 * there is something to write: the first put into an empty queue starts it, and it ends when it has
 * written the queue empty, so an idle connection holds no thread for sending.
 *
 * <p>Limits and policies are set through {@link #options()}: capacity in messages (default
 * {@value Options#DEFAULT_CAPACITY}), bytes (default {@value Options#DEFAULT_MAX_BYTES}, 4 MiB),
 * {@link OverflowPolicy} (default {@link OverflowPolicy#FAIL}), and conflation. With {@linkplain Options#conflating(boolean)
 * conflation} on, {@link #put(int, byte[])} and {@link #put(String, byte[])} replace a message with
 * the same key that is still queued — the latest value wins and keeps the first one's place — and
 * the batch puts insert all pairs or none. Int and string keys are separate key spaces; plain
 * {@link #put(byte[])} messages are never conflated. Without conflation, keyed puts are plain
 * puts and batches are rejected, as in Go.
 *
 * <p><b>Large messages</b> ({@value io.stcp.internal.DirectChunks#CHUNK} bytes and more, put with
 * {@link #put(byte[])}, {@link #putParts(byte[]...)} or a copying put, {@link #put(byte[], int, int)}
 * or {@link #put(ByteBuffer)}, which then copies only once) are copied into direct memory while they
 * wait in the queue, and written from there; the array is left to the garbage collector, which then
 * finds it dead instead of copying it from one generation to the next as long as the peer is slow.
 * The direct memory comes from one pool for the whole process, bounded by the system property
 * {@value io.stcp.internal.DirectChunks#PROPERTY} (bytes; by default an eighth of the maximum heap,
 * at most 1 GiB; 0 turns it off), which frees what no message needed for a whole idle period
 * ({@value io.stcp.internal.DirectChunks#IDLE_PROPERTY}, milliseconds, default 10 s); while it is
 * spent, large messages are queued as arrays, as they were put. Either way the array must not
 * change after the put. Keyed messages and fan-outs ({@link ConnectionRegistry}) are never copied:
 * a fan-out shares one array between its recipients. A body forwarded with {@link #relay} that is
 * of medium size (4 KiB up to a chunk) and has arrived already is copied into the same pool,
 * packed with the connection's other such messages into shared chunks.
 *
 * <p><b>Thread safety.</b> Every method except {@link #sendLoop()} may be called from any thread.
 *
 * <p><b>Backpressure.</b> A put from the connection's own reader that finds the queue full waits for
 * room (up to the connection's write timeout; without one, as long as it takes) before the FAIL or
 * CLOSE_CONNECTION policy applies: while it waits the reader reads nothing, so the kernel's window
 * closes on a peer that pipelines requests faster than it reads replies, and the peer is slowed
 * down rather than disconnected. Puts from other threads (pushes, broadcasts) follow the policy at
 * once — but for a {@link TcpClient}'s offline backlog, which a thread of its own hands over in the
 * reader's stead (so that the reader reads the replies meanwhile), and which waits as the reader's
 * puts would. {@link Options#readerBackpressure(boolean) readerBackpressure(false)} restores Go's
 * fail-at-once for the reader too.
 *
 * <p><b>Failure.</b> {@link QueueFullException} when full (per policy), {@link SenderClosedException}
 * after close. {@link #close()} discards what is queued and returns the count;
 * {@link #closeAfterFlush(Duration)} writes it first. Every accepted message is either written or
 * counted as discarded, dropped or conflated ({@link #stats()}).
 */
public final class QueueSender implements Sender {
    private final Connection connection;
    private final SendQueue queue;
    /** The send thread, the inline writes, the close, and the count of what was written or discarded. */
    private final QueueWriter writer;
    private final boolean writeInline;
    private final boolean readerBackpressure;
    private final boolean batchReplies;
    private volatile boolean held; // holdWrites(): a test holds the write token

    static {
        // Fan-outs (ConnectionRegistry) put without waiting first; see FanoutPut.
        FanoutPut.install((sender, key, bytes, since, watch) ->
                ((QueueSender) sender).fanoutOffer(key, bytes, since, watch));
    }

    private QueueSender(Connection connection, Options o) {
        this.connection = Objects.requireNonNull(connection, "connection");
        this.queue = new SendQueue(o.limits(), connection);
        this.writer = new QueueWriter(connection, queue);
        this.writeInline = o.writeInline;
        this.readerBackpressure = o.readerBackpressure;
        this.batchReplies = o.batchReplies;
    }

    /** A sender with a FIFO queue of {@code capacity} messages (Go: {@code NewQSendConnHandler}). */
    public static QueueSender create(Connection connection, int capacity) {
        return options().capacity(capacity).build(connection);
    }

    /**
     * Options with the defaults: 1024 messages, 4 MiB, fail fast (the reader waits), no conflation, no inline writes.
     *
     * @throws IllegalStateException if {@value io.stcp.internal.DirectChunks#PROPERTY} or
     *     {@value io.stcp.internal.DirectChunks#IDLE_PROPERTY} is set to something else than a
     *     number &gt;= 0 (see {@link #directMemory()})
     */
    public static Options options() {
        return new Options();
    }

    @Override
    public Connection connection() {
        return connection;
    }

    /** Whether the calling thread's puts wait for room before the policy applies: the reader's, or one acting for it. */
    private boolean patient() {
        return readerBackpressure && (connection.isReaderThread() || ActingReader.isActingFor(connection));
    }

    @Override
    public void put(byte[] bytes) {
        Objects.requireNonNull(bytes, "bytes");
        if (mayWriteInline()) {
            writer.writeInline(bytes);
            return;
        }
        offer(() -> queue.put(bytes, patient()), bytes.length);
    }

    /**
     * As {@link Sender#relay} says: a body of medium size that is already buffered is sent
     * without a copy when it is a reply on its own connection whose header fits in the bytes read
     * just before it: the header is written over those, and the reply is written inline from the
     * read buffer, or queued for the reader to write before it reads on
     * ({@link Options#batchReplies}). Otherwise it is copied once, from the read buffer into a
     * slice of a pooled direct chunk ({@link #directMemory()} counts it), and written inline from
     * there or queued. A body of a chunk or more that has not all been read yet is read straight
     * into chunks of the pool where the transport can ({@link io.stcp.internal.SendQueue#packRead}).
     * Anything else is read with {@link Connection#readBytes(byte[], int)} and put. A large body
     * read here stays charged to the server's inbound budget until its put returns, as a large
     * value a reader reads stays until the reader gives it up.
     */
    @Override
    public void relay(Connection from, byte[] header, int n) throws IOException {
        Objects.requireNonNull(from, "from");
        Objects.requireNonNull(header, "header");
        RealConnection reading = from instanceof RealConnection c && n >= 0 && c.isReaderThread() ? c : null;
        ByteBuffer reply = reading == connection && SendQueue.worthLending(header.length + (long) n)
                ? reading.lendBuffered(header, n) : null; // a reply on the reader's own connection
        if (reply != null) {
            try {
                sendInPlace(reply);
            } finally {
                reading.lendingEnded(); // written, queued or copied: the buffer may go at a wait again
            }
            return;
        }
        long length = header.length + (long) n;
        boolean reader = reading != null && beforePut(length);
        DirectMessage packed = reading == null ? null : packed(reading, header, n);
        if (packed == null) {
            put(from.readBytes(header, n));
        } else if (mayWriteInline()) {
            writer.writeInline(packed);
        } else {
            offer(reader, () -> queue.putPacked(packed, patient()), length);
        }
        if (reading != null) {
            reading.giveUpValue(); // written, or queued: the outbound budget counts it from here
        }
    }

    /** {@code header} and the next {@code n} bytes of {@code from} packed off the heap: buffered, or read straight into the pool; or null. */
    private @Nullable DirectMessage packed(RealConnection from, byte[] header, int n) throws IOException {
        DirectMessage d = queue.packBuffered(header, from, n);
        return d != null ? d : queue.packRead(header, from, n);
    }

    /**
     * A reply made in the reader's own read buffer ({@link RealConnection#lendBuffered}): written
     * from there inline, or lent to the queue for the drain the reader owes; else copied, packed
     * off the heap when the pool has room.
     */
    private void sendInPlace(ByteBuffer reply) {
        if (mayWriteInline()) {
            writer.writeInline(reply.array(), reply.position(), reply.remaining());
        } else if (!(batchReplies && lend(reply))) {
            boolean reader = beforePut(reply.remaining());
            DirectMessage packed = queue.pack(reply);
            if (packed != null) {
                offer(reader, () -> queue.putPacked(packed, patient()), reply.remaining());
            } else {
                offer(() -> queue.putCopy(reply.array(), reply.position(), reply.remaining(), patient()), reply.remaining());
            }
        }
    }

    /** Queues a lent reply for the drain the reader owes; false when it may not (see {@link QueueWriter#queueLent}). */
    private boolean lend(ByteBuffer reply) {
        writer.beforeReaderPut(reply.remaining());
        return writer.queueLent(reply);
    }

    /**
     * Queues a copy of {@code bytes[off .. off+len)}, as {@link Sender#put(byte[], int, int)} says,
     * copied once: into direct chunks when it is large (see the class comment), else into a new
     * array; a reply the reader writes inline is written from {@code bytes} before this returns,
     * without a copy. Either way the array may be reused as soon as this returns.
     */
    @Override
    public void put(byte[] bytes, int off, int len) {
        Objects.checkFromIndexSize(off, len, bytes.length);
        if (mayWriteInline()) {
            writer.writeInline(bytes, off, len);
            return;
        }
        offer(() -> queue.putCopy(bytes, off, len, patient()), len);
    }

    /**
     * Queues a copy of the remaining bytes of {@code buffer} and consumes them, as
     * {@link Sender#put(ByteBuffer)} says; a buffer with an accessible array is copied once, as
     * {@link #put(byte[], int, int)}. Its position moves to its limit only when the put succeeds.
     */
    @Override
    public void put(ByteBuffer buffer) {
        if (!buffer.hasArray()) {
            Sender.super.put(buffer);
            return;
        }
        put(buffer.array(), buffer.arrayOffset() + buffer.position(), buffer.remaining());
        buffer.position(buffer.limit());
    }

    /** One message of several arrays, queued without a copy and written with the same gathering write. */
    @Override
    public void putParts(byte[]... parts) {
        long length = 0;
        for (byte[] p : parts) {
            length += Objects.requireNonNull(p, "part").length;
        }
        if (mayWriteInline()) {
            writer.writeInline(parts);
            return;
        }
        offer(() -> queue.putParts(parts.clone(), patient()), length);
    }

    /** See {@link Options#writeInline}; when true, the caller holds the queue's inline token. */
    private boolean mayWriteInline() {
        return writeInline && connection.isReaderThread() && !queue.writeUnderWay() && !connection.inputWaiting()
                && queue.tryClaimInline();
    }

    /** A fan-out's put: see {@link SendQueue#offer}. Never inline: a fan-out serves many connections. */
    private boolean fanoutOffer(@Nullable Object key, byte[] bytes, long sinceNanos, RoomWatch.@Nullable Entry watch) {
        Objects.requireNonNull(bytes, "bytes");
        int result;
        try {
            result = queue.offer(key, bytes, patient(), sinceNanos, watch);
        } catch (SlowConsumerException e) {
            throw writer.slowConsumer(e);
        }
        if (result == SendQueue.QUEUED_START_DRAINER) {
            writer.start();
        }
        return result != SendQueue.WOULD_WAIT;
    }

    /**
     * {@inheritDoc} With conflation on, a new key takes a message slot, and its message's bytes
     * count against {@link Options#maxBytes(long)} (and a server's outbound budget) until it is
     * written, dropped or discarded; an int key adds no bytes. A replaced value keeps the slot.
     */
    @Override
    public void put(int key, byte[] bytes) {
        Objects.requireNonNull(bytes, "bytes");
        offer(() -> queue.put(key, bytes, patient()), bytes.length);
    }

    /**
     * {@inheritDoc} With conflation on, a new key takes a message slot, and counts two bytes a
     * char with its message's bytes against {@link Options#maxBytes(long)} (and a server's
     * outbound budget), until it is written, dropped or discarded: keys a peer chooses (a symbol,
     * a user id) are bounded as messages are, and one larger than the limit with its message is
     * refused as a message that is. A replaced value keeps the slot and the key's count.
     * {@link #stats()}'s {@code pendingBytes} includes the keys.
     */
    @Override
    public void put(String key, byte[] bytes) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(bytes, "bytes");
        offer(() -> queue.put(key, bytes, patient()), bytes.length);
    }

    @Override
    public void putAllIntKeyed(List<IntKeyed> messages) {
        requireConflating();
        offer(() -> queue.putAll(KeyedBatch.ofInt(messages), patient()), Long.MAX_VALUE);
    }

    @Override
    public void putAllStringKeyed(List<StringKeyed> messages) {
        requireConflating();
        offer(() -> queue.putAll(KeyedBatch.ofString(messages), patient()), Long.MAX_VALUE);
    }

    /** A queue operation that may find a slow consumer; true if a drainer must be started (or, lending, if queued). */
    @FunctionalInterface
    private interface QueueOp {
        boolean run() throws SlowConsumerException;
    }

    /** Runs a put of {@code length} bytes (Long.MAX_VALUE: several messages); see {@link Options#batchReplies}. */
    private void offer(QueueOp op, long length) {
        offer(beforePut(length), op, length);
    }

    /**
     * Runs a put that has been through {@link #beforePut} already. A message packed off the heap is
     * packed after that call, since paying an owed drain may fail (no send thread can be started)
     * and the message must then not exist yet; from here on the queue owns it:
     * {@link SendQueue#putPacked} gives it back when the put fails, and a queue that is abandoned
     * gives back all it holds.
     *
     * @param reader what {@link #beforePut} returned
     */
    private void offer(boolean reader, QueueOp op, long length) {
        if (run(op)) {
            writer.startOrOwe(reader, length);
        }
    }

    /**
     * Before a put of {@code length} bytes: the connection's reader, when it batches replies, may
     * have to pay the drain it owes first ({@link QueueWriter#beforeReaderPut}).
     *
     * @return whether the put comes from the reader of a sender that batches replies
     */
    private boolean beforePut(long length) {
        boolean reader = batchReplies && connection.isReaderThread();
        if (reader) {
            writer.beforeReaderPut(length);
        }
        return reader;
    }

    /** Runs a queue operation: a slow consumer closes the connection, a full queue is recorded. */
    private boolean run(QueueOp op) {
        try {
            return op.run();
        } catch (SlowConsumerException e) {
            throw writer.slowConsumer(e);
        } catch (QueueFullException e) {
            JfrEvents.queueFull(connection, e.getMessage());
            throw e;
        }
    }

    /**
     * For {@link Heartbeat}: puts {@code ping} only if nothing is queued and no write is under way,
     * checked and queued in one step, so that a put from another thread meanwhile never has its
     * message dropped, nor the connection closed, for the ping.
     *
     * @return whether the ping was queued
     * @throws SendException as {@link #put(byte[])}: closed, or the ping alone above the byte limit
     */
    boolean putIfIdle(byte[] ping) {
        if (!run(() -> queue.putIfIdle(ping))) {
            return false;
        }
        writer.start();
        return true;
    }

    /** For {@link Heartbeat}: the byte limit, {@link Options#maxBytes(long)}; 0 = none. */
    long maxBytes() {
        return queue.maxBytes();
    }

    /** Test seam: what is put stays queued, not written, until {@link #resumeWrites()}. */
    void holdWrites() {
        queue.holdToken();
        held = true;
    }

    /** Test seam: ends {@link #holdWrites()}; what is queued is written. */
    void resumeWrites() {
        if (held) {
            held = false;
            if (queue.releaseInline()) {
                writer.start();
            }
        }
    }

    private void requireConflating() {
        if (!queue.conflating()) {
            throw new UnsupportedOperationException(
                    "keyed batches need a conflating sender: QueueSender.options().conflating(true)");
        }
    }

    /**
     * Closes the queue and the connection, discarding what is queued.
     *
     * @return how many accepted messages were discarded and not reported before: by this call,
     *     or earlier when a write failed (every discarded message is reported once, by a close)
     */
    @Override
    public int close() {
        return writer.close();
    }

    /**
     * Writes what is queued, then closes the connection gracefully (see
     * {@link Connection#closeGracefully(Duration, Connection.Drain)}): new puts fail at once, the
     * send loop writes the queue, the output is shut down, the peer is given up to 2 s to close
     * too, and the connection closes. Whatever is not written within {@code timeout} is discarded
     * and counted. From its start the connection's reader reads no more of the peer's input (its
     * reads end, see {@link Connection#closeGracefully(Duration, Connection.Drain)}). Must not be
     * called from the send thread.
     *
     * @return how many accepted messages were not written and not reported before: discarded at the
     *     deadline, or lost with a batch when the peer reset the connection (even before this call);
     *     0 when everything was written. A close on another thread meanwhile (an {@code exit()}, a
     *     shutdown at its deadline) that discards what is left reports what is counted by then — to
     *     its caller; a served connection's in its {@code conn.exit} line — and this call only the
     *     rest, which may be 0: each discarded message is reported once, and {@link #stats()}
     *     counts them all
     */
    @Override
    public int closeAfterFlush(Duration timeout) {
        int discarded = connection.closeGracefully(timeout, writer::drain);
        return discarded + close();
    }

    /** The sender and its connection, as a registry lookup or a log line shows it. */
    @Override
    public String toString() {
        return "QueueSender[" + connection + "]";
    }

    @Override
    public boolean isClosed() {
        return writer.isClosed();
    }

    /** A snapshot of this sender's counters. */
    public Stats stats() {
        SendQueue.Stats s = queue.stats();
        return new Stats(s.pendingMessages(), s.pendingBytes(), writer.written(), s.conflated(), s.dropped(), s.rejected(),
                writer.discarded());
    }

    /**
     * Counters of one {@link QueueSender}. Every message a put accepted is, once the sender has
     * closed, exactly one of written, conflated, dropped or discarded.
     *
     * @param pendingMessages messages queued now
     * @param pendingBytes bytes queued now, as {@link Options#maxBytes(long)} counts them: with conflation
     *     on, a queued String key's two bytes a char included
     * @param written messages written to the connection
     * @param conflated keyed messages replaced by a newer value before being written
     * @param dropped messages discarded by {@link OverflowPolicy#DROP_OLDEST}
     * @param rejected puts refused because the queue was full
     * @param discarded accepted messages that were never written: discarded by a close, by a slow
     *     consumer's disconnect, or lost with a write that failed
     */
    public record Stats(int pendingMessages, long pendingBytes, long written, long conflated, long dropped,
                        long rejected, long discarded) {}

    /**
     * The direct memory that large messages are held in while queued, in the whole process (see
     * the class comment): what queued messages hold now, what the pool holds (those bytes and the
     * chunks kept for the next messages), and its limit. Chunks no message needed for a whole idle
     * period ({@value io.stcp.internal.DirectChunks#IDLE_PROPERTY}, milliseconds, default 10 s; 0
     * keeps them all) are freed, so {@code heldBytes} falls back after a burst. On JDK 22 and
     * later they are freed at once and are native memory outside the JVM's {@code direct} buffer
     * pool; on JDK 21 they are direct buffers, counted in that pool, which the collection that
     * finds them unreachable frees.
     *
     * @throws IllegalStateException if {@value io.stcp.internal.DirectChunks#PROPERTY} is set to
     *     something else than a number of bytes, or {@value io.stcp.internal.DirectChunks#IDLE_PROPERTY}
     *     to something else than a number of milliseconds
     */
    public static DirectMemory directMemory() {
        return DirectChunks.shared().memory();
    }

    /**
     * The direct memory of queued large messages, at one moment ({@link #directMemory()}).
     *
     * @param usedBytes bytes held for queued messages now, in whole chunks of
     *     {@value io.stcp.internal.DirectChunks#CHUNK} bytes
     * @param heldBytes bytes of direct memory the pool holds: in use, or kept for the next messages
     *     until they stay unused for a whole idle period
     * @param limitBytes the most the pool holds; messages that find it spent are queued as arrays
     */
    public record DirectMemory(long usedBytes, long heldBytes, long limitBytes) {}

    /**
     * Nothing to do: this sender has no long-running send loop. Its send thread starts when a put
     * finds the queue idle and ends when the queue is written (see the class comment).
     */
    @Override
    public void sendLoop() {
        // the drainer does the sending
    }

    /** False: the send thread starts only while something is queued. */
    @Override
    public boolean needsSendThread() {
        return false;
    }

    /** Options for a {@link QueueSender}; mutable, reusable, and not thread-safe. */
    public static final class Options {
        /** Default capacity in messages. */
        public static final int DEFAULT_CAPACITY = 1024;
        /** Default byte limit: 4 MiB queued per connection. */
        public static final long DEFAULT_MAX_BYTES = 4L << 20;

        private int capacity = DEFAULT_CAPACITY;
        private long maxBytes = DEFAULT_MAX_BYTES;
        private OverflowPolicy policy = OverflowPolicy.FAIL;
        private Duration blockTimeout = Duration.ofSeconds(1);
        private boolean blockTimeoutGiven; // then the policy stays BLOCK: see overflow
        private boolean conflating;
        private boolean writeInline;
        private boolean readerBackpressure = true;
        private boolean batchReplies;
        private DirectChunks directChunks = DirectChunks.shared();
        /** The limits above, made by the first build after a change and shared by the queues built until the next. */
        private @Nullable QueueLimits limits;

        private Options() {}

        /** Test seam: the pool that large messages are held in while queued, instead of the process-wide one. */
        Options directChunks(DirectChunks pool) {
            this.directChunks = Objects.requireNonNull(pool, "pool");
            limits = null;
            return this;
        }

        /**
         * Maximum queued messages; default {@value #DEFAULT_CAPACITY}. Must be at least 1: an
         * unbounded queue is asked for with {@link #unbounded()}, never by a zero.
         */
        public Options capacity(int capacity) {
            if (capacity < 1) {
                throw new IllegalArgumentException("capacity: " + capacity
                        + " (expected: >= 1; use unbounded() for a queue without a message limit)");
            }
            this.capacity = capacity;
            limits = null;
            return this;
        }

        /**
         * Removes the message limit (Go's {@code NewQSendConnHandler(conn, 0)}). Memory is then
         * bounded by {@link #maxBytes(long)} only (4 MiB unless changed; {@code maxBytes(0)} lifts
         * that too), which counts the messages' bytes and not the queue's own few tens of bytes per
         * message (more under a conflation key): many tiny messages hold several times
         * {@code maxBytes}, and empty ones, which count nothing, are never refused. Where peers
         * decide how many messages are queued, keep a message limit.
         */
        public Options unbounded() {
            this.capacity = 0;
            limits = null;
            return this;
        }

        /**
         * Maximum queued bytes; default {@value #DEFAULT_MAX_BYTES} (4 MiB); 0 = no byte limit (then
         * only the message count bounds memory). With conflation on, a queued String key counts
         * two bytes a char besides its message ({@link QueueSender#put(String, byte[])}). A single
         * message larger than this (with its key) is always rejected. Negative is rejected. A
         * server's queues together are bounded too, by {@link ServerConfig#outboundBudget()},
         * whatever this is.
         */
        public Options maxBytes(long maxBytes) {
            if (maxBytes < 0) {
                throw new IllegalArgumentException("maxBytes: " + maxBytes + " (expected: >= 0, 0 = no byte limit)");
            }
            this.maxBytes = maxBytes;
            limits = null;
            return this;
        }

        /**
         * What to do when full; default {@link OverflowPolicy#FAIL}.
         *
         * @throws IllegalArgumentException for a policy other than {@link OverflowPolicy#BLOCK}
         *     once a {@link #blockTimeout} is given: only BLOCK waits, and the timeout would be ignored
         */
        public Options overflow(OverflowPolicy policy) {
            Objects.requireNonNull(policy, "overflow");
            if (policy != OverflowPolicy.BLOCK && blockTimeoutGiven) {
                throw new IllegalArgumentException("overflow: " + policy + " with a blockTimeout of "
                        + Durations.format(blockTimeout) + " given (expected: BLOCK, the only policy that waits for room)");
            }
            this.policy = policy;
            limits = null;
            return this;
        }

        /**
         * How long {@link OverflowPolicy#BLOCK} waits for room; default 1s; zero or negative = don't wait;
         * beyond about 73 years ({@link java.time.temporal.ChronoUnit#FOREVER}, say) = without a limit (close still ends the wait).
         * Only for BLOCK, set first: {@code overflow(OverflowPolicy.BLOCK).blockTimeout(d)}.
         *
         * @throws IllegalArgumentException if the policy is not {@link OverflowPolicy#BLOCK}: no other
         *     policy waits, so the timeout would be ignored
         */
        public Options blockTimeout(Duration blockTimeout) {
            Objects.requireNonNull(blockTimeout, "blockTimeout");
            if (policy != OverflowPolicy.BLOCK) {
                throw new IllegalArgumentException("blockTimeout: " + Durations.format(blockTimeout) + " with the overflow policy "
                        + policy + " (expected: overflow(OverflowPolicy.BLOCK) first: only BLOCK waits for room)");
            }
            this.blockTimeout = blockTimeout.isNegative() ? Duration.ZERO : blockTimeout;
            blockTimeoutGiven = true;
            limits = null;
            return this;
        }

        /**
         * Whether a put from the connection's own reader waits for room (up to the write timeout)
         * before {@link OverflowPolicy#FAIL} or {@link OverflowPolicy#CLOSE_CONNECTION} apply;
         * default true. See the class comment: this slows a pipelining peer down through TCP's
         * flow control instead of disconnecting it. False: the reader's puts fail at once, as in Go.
         */
        public Options readerBackpressure(boolean readerBackpressure) {
            this.readerBackpressure = readerBackpressure;
            return this;
        }

        /** Whether keyed puts conflate (latest value wins); default false. */
        public Options conflating(boolean conflating) {
            this.conflating = conflating;
            limits = null;
            return this;
        }

        /**
         * Whether the connection's reader thread writes a plain {@link #put(byte[])} or a
         * {@link #putParts(byte[]...)} itself when nothing is queued, no write is in progress and
         * no more input is waiting ({@link Connection#inputWaiting()}: the reader would block on
         * its next read anyway), instead of handing it to the send thread; default false
         * ({@link SenderFactory#requestResponse(int)} turns it on). Order is kept either way, and
         * pipelined requests still get one write per batch. A reply to a peer whose next request
         * is already arriving is queued for a second reason: written at once, it would bring that
         * peer's next request at once, to a reader still running, ahead of every connection the
         * poller has not woken yet, and pipelining peers would be served unevenly. Inline writes
         * save a thread switch per reply, which is what request/response protocols spend most
         * on; but such a put blocks while the socket is full (up to the write timeout) rather than
         * queueing, so a reader that puts a burst of replies to one request (a subscription, a
         * download) is held up by its own peer's socket instead of its queue: leave it off for
         * those.
         */
        public Options writeInline(boolean writeInline) {
            this.writeInline = writeInline;
            return this;
        }

        /**
         * Whether the replies the connection's reader queues are written by the reader itself,
         * in one write per batch, when it has read everything that has arrived — before it waits
         * for more input — as Netty writes at the end of a read; default false: a send thread
         * started for them writes them. It saves a thread per batch of pipelined requests. The
         * reader also writes them before any put of its own that could wait for room, or is of
         * 64 KiB or more, or once 256 KiB are queued, before it waits for the queue to be written,
         * and at its end; what others put meanwhile goes out in the same batches, and if more is
         * queued by the time the reader has written a batch, a send thread takes over. A reply of
         * 64 KiB or more is always written by a send thread: written by the reader it would hold
         * the reader until the peer has read it.
         *
         * <p>Only for readers that do not block on anything but the connection: a reader that,
         * after a put, waits for something else (a database, a lock, a message from another
         * connection) holds its replies, and the puts of others, until it reads again. Applies on
         * the epoll transport ({@code stcp-epoll}), whose reader suspends between requests; on the
         * JDK's blocking sockets it changes nothing.
         */
        public Options batchReplies(boolean batchReplies) {
            this.batchReplies = batchReplies;
            return this;
        }

        /** Makes a sender for {@code connection}; usable directly as a {@link SenderFactory}. */
        public QueueSender build(Connection connection) {
            return new QueueSender(connection, this);
        }

        /**
         * The queue limits these options give. Builds may run on many threads at once, once the
         * options are set: two may each make them, equal and immutable, and one is kept.
         */
        private QueueLimits limits() {
            QueueLimits l = limits;
            if (l == null) {
                l = new QueueLimits(capacity, maxBytes, policy, Nanos.clamp(blockTimeout), conflating, directChunks);
                limits = l;
            }
            return l;
        }
    }
}
