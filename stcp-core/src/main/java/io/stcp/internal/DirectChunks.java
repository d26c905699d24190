package io.stcp.internal;

import io.stcp.QueueSender;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.IdentityHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntFunction;
import org.jspecify.annotations.Nullable;

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
 * <p><b>Trimming.</b> Chunks that no message needed for a whole idle period ({@value #IDLE_PROPERTY},
 * milliseconds, default {@value #DEFAULT_IDLE_MILLIS}; 0 keeps every chunk made) are freed: on
 * JDK 22 and later at once, each chunk being a shared arena of its own that the trim closes
 * ({@link ChunkMemory}); on JDK 21 by the collection that finds the dropped buffer. So memory made
 * for a burst goes back within two periods of its end, and a steady load keeps the chunks it uses.
 * The trimming thread, states and transitions:
 * <pre>
 *   NOT TRIMMING → TRIMMING   a give leaves chunks free (it starts the thread; fewestFree = 0)
 *   TRIMMING, each wake       frees the fewestFree chunks at the tail of the free list (the
 *                             longest free: takes pop at the head), then fewestFree = free chunks
 *   TRIMMING → NOT TRIMMING   a wake leaves no chunk free (the thread ends), or the thread fails
 * </pre>
 * Every change is made under the lock; arenas are closed after it, and the chunks freed leave the
 * count of chunks made (the memory held) only then. Only free chunks are freed,
 * and a freed chunk is in no list, so no message can hold one.
 *
 * <p><b>Failure.</b> A chunk whose freeing throws anything (a bug; or an {@link Error}: out of memory)
 * does not keep the others of a wake, or of a failed take, from being freed: it is counted out of
 * the memory held all the same, and logged ({@code direct.free.failed}, ERROR, with the first failure
 * and how many chunks failed; one line a second at most). The trimming thread goes on, and a take
 * still returns null.
 *
 * <p><b>Thread safety.</b> {@link #take}, {@link #give} and each wake of the trimming thread hold
 * one lock for a whole message or wake.
 */
public final class DirectChunks {
    /** The system property that bounds the process-wide pool, in bytes. */
    public static final String PROPERTY = "io.stcp.sendQueue.directBytes";
    /** The system property that sets how long chunks stay free before they are freed, in milliseconds. */
    public static final String IDLE_PROPERTY = "io.stcp.sendQueue.directIdleMillis";
    /** The idle period when {@value #IDLE_PROPERTY} is not set: 10 s. */
    public static final long DEFAULT_IDLE_MILLIS = 10_000;
    /** The size of a chunk, and the shortest message worth copying into chunks. */
    public static final int CHUNK = 64 * 1024;

    // The process-wide pool; null when a property is not a number, and LIMIT_ERROR says which.
    private static final DirectChunks SHARED;
    private static final String LIMIT_ERROR;

    // The idle period set by the property; the default when it is not a number (SHARED is null then).
    private static final long IDLE_NANOS;

    static {
        String value = System.getProperty(PROPERTY);
        String idleValue = System.getProperty(IDLE_PROPERTY);
        long limit = limitOf(value, Runtime.getRuntime().maxMemory());
        long idle = idleMillisOf(idleValue);
        IDLE_NANOS = TimeUnit.MILLISECONDS.toNanos(idle >= 0 ? idle : DEFAULT_IDLE_MILLIS);
        SHARED = limit >= 0 && idle >= 0 ? new DirectChunks(limit, IDLE_NANOS) : null;
        LIMIT_ERROR = limit < 0 ? PROPERTY + "=" + value + " (expected: a number of bytes >= 0)"
                : idle < 0 ? IDLE_PROPERTY + "=" + idleValue + " (expected: a number of milliseconds >= 0)" : null;
    }

    private final int maxChunks;
    private final long idleNanos; // 0: never trimmed
    private final IntFunction<ChunkMemory.Allocation> allocator;
    private final ReentrantLock lock = new ReentrantLock();
    private final RateLimiter freeFailedLog = new RateLimiter(TimeUnit.SECONDS.toNanos(1));
    private final ArrayDeque<ByteBuffer> free = new ArrayDeque<>(); // guarded by lock; the last given first
    private final IdentityHashMap<ByteBuffer, ChunkMemory.Allocation> allocations = new IdentityHashMap<>(); // guarded by lock
    private int made;  // guarded by lock: chunks made so far, free or in use
    private long lent; // guarded by lock: chunks lent since the pool was made, given back or not
    private int inUse; // guarded by lock
    private int fewestFree;   // guarded by lock: the fewest free chunks since the trimming thread last woke
    private boolean trimming; // guarded by lock: the trimming thread runs

    /**
     * A pool of at most {@code limitBytes} (rounded down to whole chunks; 0 keeps nothing off the
     * heap) that frees the chunks left free for the idle period {@value #IDLE_PROPERTY} sets.
     */
    public DirectChunks(long limitBytes) {
        this(limitBytes, IDLE_NANOS);
    }

    /** A pool of at most {@code limitBytes} that frees the chunks left free for {@code idleNanos} (0: never). */
    DirectChunks(long limitBytes, long idleNanos) {
        this(limitBytes, idleNanos, ChunkMemory::allocate);
    }

    /** Test seam: chunks made by {@code allocator} (a chunk's size in, its memory out). */
    DirectChunks(long limitBytes, long idleNanos, IntFunction<ChunkMemory.Allocation> allocator) {
        if (limitBytes < 0) {
            throw new IllegalArgumentException("limitBytes: " + limitBytes + " (expected: >= 0)");
        }
        if (idleNanos < 0) {
            throw new IllegalArgumentException("idleNanos: " + idleNanos + " (expected: >= 0)");
        }
        this.maxChunks = (int) Math.min(Integer.MAX_VALUE, limitBytes / CHUNK);
        this.idleNanos = idleNanos;
        this.allocator = allocator;
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
        return NumberProperty.nonNegative(value, Math.min(maxHeap / 8, 1L << 30));
    }

    /** The idle period the property's {@code value} sets, in milliseconds, or -1 when it is not one. */
    static long idleMillisOf(String value) {
        return NumberProperty.nonNegative(value, DEFAULT_IDLE_MILLIS);
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
            fewestFree = Math.min(fewestFree, free.size());
            inUse += n;
            lent += n;
            made += n - kept;
        } finally {
            lock.unlock();
        }
        if (kept == n) {
            return chunks; // all from the free list: nothing made
        }
        ChunkMemory.Allocation @Nullable [] allocated = null; // null only while nothing is made
        int i = kept;
        try {
            allocated = new ChunkMemory.Allocation[n];
            for (; i < n; i++) { // outside the lock: counted already
                allocated[i] = allocator.apply(CHUNK);
                chunks[i] = allocated[i].buffer();
            }
            lock.lock();
            try {
                for (int j = kept; j < n; j++) {
                    allocations.put(chunks[j], allocated[j]);
                }
            } finally {
                lock.unlock();
            }
            return chunks;
        } catch (OutOfMemoryError e) {
            // Direct or native memory is spent (or, at worst, the heap): the message stays an array.
            undo(chunks, allocated, kept, i);
            return null;
        }
    }

    /**
     * Undoes a take that failed after making {@code chunks[kept .. end)}: frees those (no one else
     * has them), and puts back the {@code kept} ones it took from the free list, and the counts.
     * {@code allocated} is null only when nothing was made ({@code end == kept}).
     */
    private void undo(ByteBuffer[] chunks, ChunkMemory.Allocation @Nullable [] allocated, int kept, int end) {
        lock.lock();
        try {
            for (int j = kept; j < end; j++) {
                allocations.remove(chunks[j]);
            }
            for (int j = kept - 1; j >= 0; j--) {
                free.push(chunks[j]);
            }
            made -= chunks.length - kept;
            inUse -= chunks.length;
            lent -= chunks.length;
        } finally {
            lock.unlock();
        }
        free(allocated, kept, end);
    }

    /** Gives back chunks from {@link #take}; the caller no longer uses them. */
    void give(ByteBuffer[] chunks) {
        boolean startTrimming;
        lock.lock();
        try {
            for (ByteBuffer c : chunks) {
                free.push(c.clear());
            }
            inUse -= chunks.length;
            startTrimming = idleNanos > 0 && !trimming && !free.isEmpty();
            if (startTrimming) {
                trimming = true;
                fewestFree = 0; // the chunks given now were not free through a whole period yet
            }
        } finally {
            lock.unlock();
        }
        if (startTrimming) {
            startTrimming();
        }
    }

    private void startTrimming() {
        try {
            Threads.start("stcp-direct-trim", this::trimLoop);
        } catch (Throwable t) { // no thread now (out of memory): the next give tries again
            trimmingEnded();
        }
    }

    /** The trimming thread did not start, or ended by a failure: the next give starts another. */
    private void trimmingEnded() {
        lock.lock();
        try {
            trimming = false;
        } finally {
            lock.unlock();
        }
    }

    /** The trimming thread: see the class comment. */
    private void trimLoop() {
        boolean done = false;
        try {
            while (!done) {
                long deadline = System.nanoTime() + idleNanos;
                for (long left = idleNanos; left > 0; left = deadline - System.nanoTime()) {
                    LockSupport.parkNanos(this, left);
                }
                ChunkMemory.Allocation[] freeing;
                lock.lock();
                try {
                    freeing = new ChunkMemory.Allocation[fewestFree]; // made before anything changes
                    for (int i = 0; i < freeing.length; i++) {
                        freeing[i] = allocations.remove(free.removeLast()); // the longest free first
                    }
                    fewestFree = free.size();
                    done = free.isEmpty();
                    if (done) {
                        trimming = false;
                    }
                } finally {
                    lock.unlock();
                }
                free(freeing, 0, freeing.length);
                lock.lock();
                try {
                    made -= freeing.length; // counted as held until freed, so heldBytes never runs ahead
                } finally {
                    lock.unlock();
                }
            }
        } finally {
            if (!done) {
                trimmingEnded();
            }
        }
    }

    /**
     * Frees every one of {@code allocations[from .. to)}, even when one throws, an {@link Error}
     * included; then logs the first failure and how many there were (see the class comment). Throws
     * nothing: its callers are the trimming thread and a take that the caller expects to return null.
     */
    private void free(ChunkMemory.Allocation[] allocations, int from, int to) {
        Throwable first = null;
        int failed = 0;
        for (int i = from; i < to; i++) {
            try {
                allocations[i].free();
            } catch (Throwable t) {
                first = first == null ? t : first;
                failed++;
            }
        }
        if (first != null) {
            try {
                long held = freeFailedLog.tryAcquire();
                if (held >= 0) {
                    Log.suppressed(Log.SERVER.atError().setMessage("direct.free.failed")
                            .addKeyValue("chunks", failed), held)
                            .setCause(first).log();
                }
            } catch (Throwable logFailed) {
                // out of memory even for the line: the chunks are freed all the same
            }
        }
    }

    /** The most bytes this pool lends at once. */
    public long limitBytes() {
        return (long) maxChunks * CHUNK;
    }

    /**
     * How many chunks this pool has lent since it was made, given back or not: whether it was
     * used at all, which what it holds cannot tell once trimming has freed its chunks.
     */
    public long chunksLent() {
        lock.lock();
        try {
            return lent;
        } finally {
            lock.unlock();
        }
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
