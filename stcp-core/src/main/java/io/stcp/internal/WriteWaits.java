package io.stcp.internal;

import java.nio.ByteBuffer;

/**
 * Told, on the writing thread, that a write is about to wait for room in the socket
 * ({@link Transport#onWriteWait}): a connection's reader writing its replies (the drain it owes, a
 * reply inline) gives its read buffers back first, as before a wait for room for a put
 * ({@link ConnectionInput#writeWaits}). Only on the way into a wait that blocks, never per message.
 */
@FunctionalInterface
interface WriteWaits {
    /** Tells nothing. */
    WriteWaits NONE = (unwritten, off, end) -> { };

    /**
     * A write is about to wait for room; {@code unwritten[off .. end)} are the caller's buffers it
     * has not written from yet, or not all (a layer's: the bytes it has not taken in yet). Those
     * buffers must stay as they are: the write goes on with them.
     */
    void beforeWait(ByteBuffer[] unwritten, int off, int end);
}
