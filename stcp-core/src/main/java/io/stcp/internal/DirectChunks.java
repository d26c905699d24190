package io.stcp.internal;

import io.stcp.QueueSender;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A bounded pool of direct buffers of {@value #CHUNK} bytes, which large queued messages are copied
 * into ({@link DirectMessage}), so that the garbage collector never copies them.
 *
 * <p>Why: a queued message lives until the send thread has written it, and with many peers
 * pipelining large frames that is hundreds of MB of arrays. A young collection copies every live
 * array it finds, and promotes the ones that outlive it, so the collector spent more than the
 * server did (at 100 connections with 4 frames of 1 MiB each in flight: pauses of 150–900 ms, and
 * 7.4 ms of server CPU per frame). Copied here, the array the application put dies young, where a
 * collection costs nothing, and the send thread writes the chunks with a gathering write, which
 * the JDK passes to the kernel without a copy of its own.
 *
 * <p><b>Bounds.</b> Chunks are made on demand, at most {@code limitBytes} in all, and kept for the
 * next messages once given back. A message the pool has no room for stays an array: the pool
 * changes where queued bytes are held, never whether a put is accepted. The process-wide pool
 * ({@link #shared()}) is bounded by the system property {@value #PROPERTY} (bytes; {@code 0} turns
 * it off), by default an eighth of the maximum heap, at most 1 GiB.
 *
 * <p><b>Thread safety.</b> {@link #take} and {@link #give} hold one lock for a whole message.
 */
public final class DirectChunks {
    /** The system property that bounds the process-wide pool, in bytes. */
    public static final String PROPERTY = "io.stcp.sendQueue.directBytes";
    /** The size of a chunk, and the shortest message worth copying into chunks. */
    public static final int CHUNK = 64 * 1024;

    // The process-wide pool; null when the property is not a number of bytes, and LIMIT_ERROR says so.
    private static final DirectChunks SHARED;
    private static final String LIMIT_ERROR;

    static {
        String value = System.getProperty(PROPERTY);
        long limit = limitOf(value, Runtime.getRuntime().maxMemory());
        SHARED = limit >= 0 ? new DirectChunks(limit) : null;
        LIMIT_ERROR = limit >= 0 ? null : PROPERTY + "=" + value + " (expected: a number of bytes >= 0)";
    }

    private final int maxChunks;
    private final ReentrantLock lock = new ReentrantLock();
    private final ArrayDeque<ByteBuffer> free = new ArrayDeque<>(); // guarded by lock
    private int made;  // guarded by lock: chunks made so far, free or in use
    private int inUse; // guarded by lock

    /** A pool of at most {@code limitBytes} (rounded down to whole chunks); 0 keeps nothing off the heap. */
    public DirectChunks(long limitBytes) {
        if (limitBytes < 0) {
            throw new IllegalArgumentException("limitBytes: " + limitBytes + " (expected: >= 0)");
        }
        this.maxChunks = (int) Math.min(Integer.MAX_VALUE, limitBytes / CHUNK);
    }

    /**
     * The process-wide pool that every {@link io.stcp.QueueSender} uses.
     *
     * @throws IllegalStateException if {@value #PROPERTY} is set to something else than a number of bytes
     */
    public static DirectChunks shared() {
        if (SHARED == null) {
            throw new IllegalStateException(LIMIT_ERROR);
        }
        return SHARED;
    }

    /**
     * The limit the property's {@code value} sets: unset, an eighth of {@code maxHeap} but at most
     * 1 GiB; else the bytes it says, or -1 when it is not a number of bytes.
     */
    static long limitOf(String value, long maxHeap) {
        if (value == null || value.isBlank()) {
            return Math.min(maxHeap / 8, 1L << 30);
        }
        try {
            return Math.max(-1, Long.parseLong(value.trim()));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Whether a message of {@code length} bytes is worth copying into chunks. */
    static boolean worthCopying(long length) {
        return length >= CHUNK;
    }

    /** How many chunks hold {@code length} bytes. */
    static int chunksFor(long length) {
        return (int) Math.min(Integer.MAX_VALUE, (length + CHUNK - 1) / CHUNK);
    }

    /**
     * {@code n} cleared chunks, or null if the pool cannot lend that many now (nor the JVM make
     * them); the caller gives them back with {@link #give}.
     */
    ByteBuffer[] take(int n) {
        ByteBuffer[] chunks = new ByteBuffer[n];
        int kept = 0;
        lock.lock();
        try {
            if (n > maxChunks - inUse) {
                return null;
            }
            while (kept < n && !free.isEmpty()) {
                chunks[kept++] = free.pop();
            }
            inUse += n;
            made += n - kept;
        } finally {
            lock.unlock();
        }
        int i = kept;
        try {
            for (; i < n; i++) {
                chunks[i] = ByteBuffer.allocateDirect(CHUNK); // outside the lock: counted already
            }
        } catch (OutOfMemoryError e) { // the JVM's direct memory is spent: the message stays an array
            lock.lock();
            try {
                made -= n - i;
                inUse -= n - i;
            } finally {
                lock.unlock();
            }
            give(Arrays.copyOf(chunks, i));
            return null;
        }
        return chunks;
    }

    /** Gives back chunks from {@link #take}; the caller no longer uses them. */
    void give(ByteBuffer[] chunks) {
        lock.lock();
        try {
            for (ByteBuffer c : chunks) {
                free.push(c.clear());
            }
            inUse -= chunks.length;
        } finally {
            lock.unlock();
        }
    }

    /** The most bytes this pool lends at once. */
    public long limitBytes() {
        return (long) maxChunks * CHUNK;
    }

    /** What this pool lends and holds now, read at one moment. */
    public QueueSender.DirectMemory memory() {
        lock.lock();
        try {
            return new QueueSender.DirectMemory((long) inUse * CHUNK, (long) made * CHUNK, limitBytes());
        } finally {
            lock.unlock();
        }
    }
}
