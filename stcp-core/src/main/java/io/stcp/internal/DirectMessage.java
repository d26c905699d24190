package io.stcp.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.jspecify.annotations.Nullable;

/**
 * A queued message held in chunks of a {@link DirectChunks} pool instead of the array it was put
 * as (see there for why), or in a slice of a chunk it shares with other messages of its queue
 * ({@link PackedChunks}). It has one owner at a time: the queue while it is queued, then the send
 * thread that drained it; whoever ends with it — written, dropped, or discarded — calls
 * {@link #release()}, which gives the chunks back once.
 */
public final class DirectMessage {
    private final @Nullable DirectChunks pool;          // chunks of its own: given back to this pool
    private final PackedChunks.@Nullable Share share;   // else a slice: released to its chunk's share
    private final long length;
    private final int chunkCount;
    private ByteBuffer @Nullable [] chunks; // null once released

    private DirectMessage(@Nullable DirectChunks pool, PackedChunks.@Nullable Share share, ByteBuffer[] chunks, long length) {
        this.pool = pool;
        this.share = share;
        this.chunks = chunks;
        this.chunkCount = chunks.length;
        this.length = length;
    }

    /**
     * A packed message of {@code slice}'s capacity in bytes, held by {@code share}; the caller
     * fills it through {@link #fillBuffer()}, then calls {@link #filled()}.
     */
    static DirectMessage packed(PackedChunks.Share share, ByteBuffer slice) {
        return new DirectMessage(null, share, new ByteBuffer[] {slice}, slice.capacity());
    }

    /** A packed message's one buffer, positioned where its next bytes go. */
    ByteBuffer fillBuffer() {
        return chunks[0];
    }

    /** A packed message is filled: its buffer is made ready to be written. */
    DirectMessage filled() {
        chunks[0].flip();
        return this;
    }

    /**
     * The {@code parts}, back to back, copied into chunks of {@code pool}; or null when they are too
     * short to be worth it or the pool has no room, and the message stays as it was put.
     */
    static DirectMessage copyOf(DirectChunks pool, byte[][] parts, long length) {
        ByteBuffer[] chunks = take(pool, length);
        if (chunks == null) {
            return null;
        }
        int c = 0;
        for (byte[] part : parts) {
            c = fill(chunks, c, part, 0, part.length);
        }
        return new DirectMessage(pool, null, flip(chunks), length);
    }

    /** {@code bytes[off .. off+len)} copied into chunks of {@code pool}; or null, as for parts. */
    static DirectMessage copyOf(DirectChunks pool, byte[] bytes, int off, int len) {
        ByteBuffer[] chunks = take(pool, len);
        if (chunks == null) {
            return null;
        }
        fill(chunks, 0, bytes, off, len);
        return new DirectMessage(pool, null, flip(chunks), len);
    }

    /**
     * {@code header} and the next {@code n} bytes of {@code input}, read into chunks of {@code pool}
     * straight from the socket ({@link ConnectionInput#readFully(ByteBuffer[], int)}); or null when they are
     * too short to be worth it or the pool has no room, and nothing is read. The chunks go back to
     * the pool if the read fails.
     */
    static @Nullable DirectMessage read(DirectChunks pool, byte[] header, ConnectionInput input, int n) throws IOException {
        long length = header.length + (long) n;
        ByteBuffer[] chunks = take(pool, length);
        if (chunks == null) {
            return null;
        }
        try {
            int c = fill(chunks, 0, header, 0, header.length);
            ByteBuffer last = chunks[chunks.length - 1]; // whole chunks before it: it ends the value
            last.limit((int) (length - (long) (chunks.length - 1) * DirectChunks.CHUNK));
            input.readFully(chunks, c);
        } catch (IOException | RuntimeException | Error e) {
            pool.give(chunks);
            throw e;
        }
        return new DirectMessage(pool, null, flip(chunks), length);
    }

    private static ByteBuffer[] take(DirectChunks pool, long length) {
        return DirectChunks.worthCopying(length) ? pool.take(DirectChunks.chunksFor(length)) : null;
    }

    /** Appends {@code bytes[off .. off+len)} to the chunks from chunk {@code c} on; returns the chunk it ended in. */
    private static int fill(ByteBuffer[] chunks, int c, byte[] bytes, int off, int len) {
        int end = off + len;
        while (off < end) {
            if (!chunks[c].hasRemaining()) {
                c++;
            }
            int n = Math.min(end - off, chunks[c].remaining());
            chunks[c].put(bytes, off, n);
            off += n;
        }
        return c;
    }

    private static ByteBuffer[] flip(ByteBuffer[] chunks) {
        for (ByteBuffer chunk : chunks) {
            chunk.flip();
        }
        return chunks;
    }

    long length() {
        return length;
    }

    /** How many buffers {@link #buffers} gives. */
    int chunkCount() {
        return chunkCount;
    }

    /** Puts the message's buffers, each positioned at its start, into {@code into} from {@code at}. */
    void buffers(ByteBuffer[] into, int at) {
        for (ByteBuffer chunk : chunks) {
            into[at++] = chunk.rewind();
        }
    }

    /** Gives the chunks back to the pool; once, whoever calls it: later calls do nothing. */
    void release() {
        ByteBuffer[] c = chunks;
        if (c != null) {
            chunks = null;
            if (share != null) {
                share.release();
            } else {
                pool.give(c);
            }
        }
    }
}
