package io.stcp;

import io.stcp.internal.SendQueue;
import io.stcp.internal.SenderSupport;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A sender with a FIFO queue (Go: {@code QSender}): puts return at once, the send thread writes
 * everything queued with one gathering write per batch, in order.
 *
 * <p>Limits and policies are set through {@link #options()}: capacity in messages (default
 * {@value Options#DEFAULT_CAPACITY}), optional byte limit, {@link OverflowPolicy} (default
 * {@link OverflowPolicy#FAIL}), and conflation. With {@linkplain Options#conflating(boolean)
 * conflation} on, {@link #put(int, byte[])} and {@link #put(String, byte[])} replace a message with
 * the same key that is still queued — the latest value wins and keeps the first one's place — and
 * the batch puts insert all pairs or none. Int and string keys are separate key spaces; plain
 * {@link #put(byte[])} messages are never conflated. Without conflation, keyed puts are plain
 * puts and batches are rejected, as in Go.
 *
 * <p><b>Thread safety.</b> Every method except {@link #sendLoop()} may be called from any thread.
 *
 * <p><b>Failure.</b> {@link QueueFullException} when full (per policy), {@link SenderClosedException}
 * after close. {@link #close()} discards what is queued and returns the count;
 * {@link #closeAfterFlush(Duration)} writes it first.
 */
public final class QueueSender implements Sender {
    private static final int MAX_BATCH = 1024; // IOV_MAX on Linux
    private static final int INITIAL_BATCH = 16;
    /** A batch stops growing past this many bytes, bounding the JDK's temporary direct buffers. */
    private static final long MAX_BATCH_BYTES = 256 * 1024;
    private static final Duration FAILED_WRITE_GRACE = Duration.ofSeconds(1);

    private final Connection connection;
    private final SendQueue queue;
    private final SenderSupport support;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final CountDownLatch loopDone = new CountDownLatch(1);
    private volatile int unwritten; // messages of the batch a failed write left unwritten
    private final boolean writeInline;

    private QueueSender(Connection connection, Options o) {
        this.connection = Objects.requireNonNull(connection, "connection");
        this.queue = new SendQueue(o.capacity, o.maxBytes, o.policy, o.blockTimeout.toNanos(), o.conflating);
        this.support = new SenderSupport(connection);
        this.writeInline = o.writeInline;
    }

    /** A sender with a FIFO queue of {@code capacity} messages (Go: {@code NewQSendConnHandler}). */
    public static QueueSender create(Connection connection, int capacity) {
        return options().capacity(capacity).build(connection);
    }

    /** Options with the defaults: 1024 messages, no byte limit, fail fast, no conflation. */
    public static Options options() {
        return new Options();
    }

    @Override
    public Connection connection() {
        return connection;
    }

    @Override
    public void put(byte[] bytes) {
        Objects.requireNonNull(bytes, "bytes");
        if (writeInline && support.isReaderThread() && connection.buffered() == 0 && queue.tryClaimInline()) {
            writeInline(bytes);
            return;
        }
        try {
            queue.put(bytes);
        } catch (SendQueue.SlowConsumer e) {
            throw slowConsumer(e);
        }
    }

    /**
     * The connection's reader replying while nothing is queued or being written and no more input
     * is buffered: it writes the message itself instead of waking the send thread (one thread
     * switch less per message; the write timeout applies as usual). With input still buffered the
     * reader has more requests to answer at once, so the reply queues and the send thread writes
     * the whole batch with one write.
     */
    private void writeInline(byte[] bytes) {
        try {
            connection.write(ByteBuffer.wrap(bytes));
        } catch (java.io.IOException e) {
            support.discarded(1);
            close();
            throw new SenderClosedException("connection failed while writing: " + e.getMessage());
        } finally {
            queue.releaseInline();
        }
    }

    @Override
    public void put(int key, byte[] bytes) {
        Objects.requireNonNull(bytes, "bytes");
        offer(() -> queue.put(key, bytes));
    }

    @Override
    public void put(String key, byte[] bytes) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(bytes, "bytes");
        offer(() -> queue.put(key, bytes));
    }

    @Override
    public void putAllIntKeyed(List<IntKeyed> messages) {
        requireConflating();
        offer(() -> queue.putAllInt(messages));
    }

    @Override
    public void putAllStringKeyed(List<StringKeyed> messages) {
        requireConflating();
        offer(() -> queue.putAllString(messages));
    }

    /** A queue operation that may find a slow consumer. */
    @FunctionalInterface
    private interface QueueOp {
        void run() throws SendQueue.SlowConsumer;
    }

    private void offer(QueueOp op) {
        try {
            op.run();
        } catch (SendQueue.SlowConsumer e) {
            throw slowConsumer(e);
        }
    }

    private void requireConflating() {
        if (!queue.conflating()) {
            throw new UnsupportedOperationException(
                    "keyed batches need a conflating sender: QueueSender.options().conflating(true)");
        }
    }

    private QueueFullException slowConsumer(SendQueue.SlowConsumer e) {
        support.slowConsumer(e.discarded());
        closeConnection();
        return new QueueFullException("slow consumer: send queue full, connection closed");
    }

    @Override
    public int close() {
        int discarded = queue.close();
        closeConnection();
        support.discarded(discarded);
        return discarded;
    }

    private void closeConnection() {
        if (closed.compareAndSet(false, true)) {
            connection.close();
        }
    }

    @Override
    public int closeAfterFlush(Duration timeout) {
        long deadline = System.nanoTime() + Math.max(0, timeout.toNanos());
        queue.closeGracefully();
        boolean flushed = awaitLoop(timeout);
        if (flushed) {
            support.lingerAfterFlush(Duration.ofNanos(deadline - System.nanoTime()));
        }
        int discarded = close(); // 0 if the loop wrote everything, else what was still queued
        if (!flushed && awaitLoop(FAILED_WRITE_GRACE)) {
            discarded += unwritten; // the socket is closed, so a blocked write has failed by now
        }
        return discarded;
    }

    private boolean awaitLoop(Duration timeout) {
        try {
            return loopDone.await(Math.max(0, timeout.toNanos()), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    @Override
    public boolean isClosed() {
        return closed.get() || !queue.isOpen();
    }

    /** A snapshot of this sender's counters. */
    public Stats stats() {
        SendQueue.Stats s = queue.stats();
        return new Stats(s.pendingMessages(), s.pendingBytes(), s.conflated(), s.dropped(), s.rejected(),
                support.discardedTotal());
    }

    /**
     * Counters of one {@link QueueSender}.
     *
     * @param pendingMessages messages queued now
     * @param pendingBytes bytes queued now
     * @param conflated keyed messages replaced by a newer value before being written
     * @param dropped messages discarded by {@link OverflowPolicy#DROP_OLDEST}
     * @param rejected puts refused because the queue was full
     * @param discarded messages discarded by close
     */
    public record Stats(int pendingMessages, long pendingBytes, long conflated, long dropped, long rejected,
                        long discarded) {}

    @Override
    public void sendLoop() throws Exception {
        // Small at first, so an idle connection holds little; doubled while batches fill it.
        byte[][] batch = new byte[INITIAL_BATCH][];
        ByteBuffer[] buffers = new ByteBuffer[INITIAL_BATCH];
        int n = 0;
        try {
            while ((n = queue.drain(batch, MAX_BATCH_BYTES)) > 0) {
                for (int i = 0; i < n; i++) {
                    buffers[i] = ByteBuffer.wrap(batch[i]);
                    batch[i] = null;
                }
                connection.write(buffers, 0, n);
                queue.batchWritten();
                java.util.Arrays.fill(buffers, 0, n, null);
                if (n == batch.length && n < MAX_BATCH) {
                    batch = new byte[n * 2][];
                    buffers = new ByteBuffer[n * 2];
                }
            }
            if (queue.isDraining()) {
                // closeAfterFlush with everything written: tell the peer we are done.
                connection.shutdownOutput();
            }
        } catch (Exception e) {
            // Messages taken for this batch but not (fully) written are lost with the connection:
            // count them like the ones close() discards.
            int lost = 0;
            for (int i = 0; i < n; i++) {
                if (buffers[i] != null && buffers[i].hasRemaining()) {
                    lost++;
                }
            }
            unwritten = lost;
            support.discarded(lost);
            throw e;
        } finally {
            loopDone.countDown();
        }
    }

    /** Options for a {@link QueueSender}; mutable, reusable, and not thread-safe. */
    public static final class Options {
        /** Default capacity in messages. */
        public static final int DEFAULT_CAPACITY = 1024;

        private int capacity = DEFAULT_CAPACITY;
        private long maxBytes;
        private OverflowPolicy policy = OverflowPolicy.FAIL;
        private Duration blockTimeout = Duration.ofSeconds(1);
        private boolean conflating;
        private boolean writeInline;

        private Options() {}

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
            return this;
        }

        /**
         * Removes the message limit (Go's {@code NewQSendConnHandler(conn, 0)}). Memory is then
         * bounded only by {@link #maxBytes(long)}, if set.
         */
        public Options unbounded() {
            this.capacity = 0;
            return this;
        }

        /** Maximum queued bytes; default 0, no byte limit. Negative is rejected. */
        public Options maxBytes(long maxBytes) {
            if (maxBytes < 0) {
                throw new IllegalArgumentException("maxBytes: " + maxBytes + " (expected: >= 0, 0 = no byte limit)");
            }
            this.maxBytes = maxBytes;
            return this;
        }

        /** What to do when full; default {@link OverflowPolicy#FAIL}. */
        public Options overflow(OverflowPolicy policy) {
            this.policy = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /** How long {@link OverflowPolicy#BLOCK} waits for room; default 1s; zero or negative = don't wait. */
        public Options blockTimeout(Duration blockTimeout) {
            this.blockTimeout = blockTimeout.isNegative() ? Duration.ZERO : blockTimeout;
            return this;
        }

        /** Whether keyed puts conflate (latest value wins); default false. */
        public Options conflating(boolean conflating) {
            this.conflating = conflating;
            return this;
        }

        /**
         * Whether the connection's reader thread writes a plain {@link #put(byte[])} itself when
         * nothing is queued, no write is in progress and no more input is buffered (so the reader
         * would block on its next read anyway), instead of handing it to the send thread; default
         * false. Order is kept either way, and pipelined requests still get one write per batch.
         * It saves a thread switch per reply, which pays in request/response protocols, but such a
         * put then blocks while the socket is full (up to the write timeout) rather than returning
         * at once, so the overflow policy does not apply to it: the slow peer slows its own reader
         * down instead.
         */
        public Options writeInline(boolean writeInline) {
            this.writeInline = writeInline;
            return this;
        }

        /** Makes a sender for {@code connection}; usable directly as a {@link SenderFactory}. */
        public QueueSender build(Connection connection) {
            return new QueueSender(connection, this);
        }
    }
}
