package io.stcp.internal;

import java.nio.ByteBuffer;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * One send queue's medium messages ({@value #MIN} bytes up to a {@link DirectChunks#CHUNK chunk}),
 * packed back to back into a chunk of a {@link DirectChunks} pool, each a slice of it.
 *
 * <p>Why: a relayed body ({@link io.stcp.Sender#relay}) copied into a chunk is neither a new heap
 * array, whose memory was last touched a whole young generation ago, nor copied once more by the
 * JDK into its temporary direct buffer when several are written at once. Packed, a connection with
 * four 16 KiB replies in flight holds one chunk, not four (a chunk each made the pool's memory four
 * times as large and the kernel's copy out of it twice as slow).
 *
 * <p><b>States</b> of the chunk being filled, all changed under one lock:
 * <pre>
 *   NONE → FILLING      a message is packed and the pool lends a chunk (its share count 1)
 *   FILLING             a message that fits takes the next slice (count + 1)
 *   FILLING → NONE      a message that does not fit: the next chunk is taken and this one is
 *                       left to its messages; or the last message in it is released (count 0)
 * </pre>
 * A chunk whose count reaches 0 goes back to the pool at once, so a queue with nothing queued
 * holds none. Messages are released by whoever ends with them (the send thread, or a close), on
 * any thread.
 */
final class PackedChunks {
    /** The shortest message worth packing: shorter ones are cheap as arrays. */
    static final int MIN = 4096;

    private final DirectChunks pool;
    private final ReentrantLock lock = new ReentrantLock(); // not a monitor: no carrier pinned on JDK 21
    private @Nullable Share filling; // guarded by lock

    PackedChunks(DirectChunks pool) {
        this.pool = pool;
    }

    /** Whether a message of {@code length} bytes is packed here rather than held otherwise. */
    static boolean worthPacking(long length) {
        return length >= MIN && length < DirectChunks.CHUNK;
    }

    /**
     * A message of {@code length} bytes to fill: its one buffer, a slice of the chunk being
     * filled, is positioned at its start. Or null when the pool has no room (the message stays an
     * array). Whoever ends with the message releases it ({@link DirectMessage#release()}).
     */
    @Nullable DirectMessage take(int length) {
        lock.lock();
        try {
            Share s = filling;
            if (s == null || s.chunk.remaining() < length) {
                filling = null; // the old chunk is left to its messages
                ByteBuffer[] c = pool.take(1);
                if (c == null) {
                    return null;
                }
                s = filling = new Share(c[0]);
            }
            s.count++;
            int at = s.chunk.position();
            s.chunk.position(at + length);
            return DirectMessage.packed(s, s.chunk.slice(at, length));
        } finally {
            lock.unlock();
        }
    }

    private void release(Share s) {
        lock.lock();
        try {
            if (--s.count > 0) {
                return;
            }
            if (filling == s) {
                filling = null;
            }
        } finally {
            lock.unlock();
        }
        pool.give(new ByteBuffer[] {s.chunk}); // in no one's hands now: outside the lock
    }

    /** One chunk and how many messages still hold a slice of it. */
    final class Share {
        private final ByteBuffer chunk;
        private int count; // guarded by PackedChunks.lock

        private Share(ByteBuffer chunk) {
            this.chunk = chunk;
        }

        /** One message of this chunk is done with. */
        void release() {
            PackedChunks.this.release(this);
        }
    }
}
