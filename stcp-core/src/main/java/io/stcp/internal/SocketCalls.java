package io.stcp.internal;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A non-blocking socket's read and write system calls made straight on a Java array, offered by a
 * {@link ReadinessSource} that can make them (the epoll module, through the FFM API). The JDK's
 * channels copy every heap buffer through a temporary direct buffer and take a lock per call;
 * these calls do neither.
 *
 * <p>They work on a bare descriptor, the channel's own ({@link ReadinessSource#register}), which
 * stays valid while the channel is open, or, for a channel the application holds too, the
 * source's duplicate of it ({@link ReadinessSource#registerShared}), valid until
 * {@link Readiness#closeDescriptor()}: a caller must not close either while one of its calls is
 * under way, or the number, reused by another socket, could be read or written (see
 * {@link ReadinessTransport}, which alone closes them). A channel closed by its number behind
 * stcp's back is outside the contract.
 */
public interface SocketCalls {

    /** The descriptor these calls use for the socket registered as {@code readiness}: its channel's, or a duplicate. */
    int fd(Readiness readiness);

    /**
     * Reads into {@code b[off .. off+len)} (len &gt; 0), without waiting.
     *
     * @return the bytes read, 0 when none are there yet, or -1 at end of stream
     * @throws IOException as the JDK's channel would report the failure (a reset says "Connection reset")
     */
    int read(int fd, byte[] b, int off, int len) throws IOException;

    /**
     * Writes {@code b[off .. off+len)} (len &gt; 0), or as much as the socket takes, without waiting.
     *
     * @return the bytes written, 0 when the socket has no room
     * @throws IOException as the JDK's channel would report the failure ("Broken pipe", "Connection reset")
     */
    int write(int fd, byte[] b, int off, int len) throws IOException;

    /**
     * Writes the remaining bytes of the direct buffers {@code srcs[off .. end)} with one gathering
     * call, or as much as the socket takes (at most {@code maxBytes}, and at most as many buffers
     * as the call's vector holds), without waiting, and moves each buffer's position past what was
     * written. The buffers' memory must stay allocated until this returns: only for buffers their
     * caller owns ({@link Transport#writeOwned}).
     *
     * @return the bytes written, 0 when the socket has no room, or -1 when these calls cannot take
     *     the buffers (one is not direct, or no vector is free): the caller writes them another way
     * @throws IOException as the JDK's channel would report the failure
     */
    default long writeDirect(int fd, ByteBuffer[] srcs, int off, int end, int maxBytes) throws IOException {
        return -1;
    }

    /**
     * Sets the socket's receive low-water mark ({@code SO_RCVLOWAT}): readiness to read is then
     * signalled once {@code bytes} have arrived (or the receive window is full, or the stream
     * ended), not at the first byte. 1 restores the default.
     */
    void receiveLowWater(int fd, int bytes) throws IOException;
}
