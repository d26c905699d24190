package io.stcp.framing;

import io.stcp.Connection;
import io.stcp.ConnectionReader;
import io.stcp.Sender;
import io.stcp.internal.CutFrames;
import java.util.Objects;

/**
 * A reader for frames of one fixed length: each {@link #read} call reads exactly
 * {@code frameLength} bytes and hands them to the {@link FrameHandler}.
 * <pre>
 *   on the wire (frameLength 3)        delivered
 *   a b c d e f               --->     "abc", then "def"
 * </pre>
 * End of stream inside a frame is an {@link java.io.EOFException}; a read timeout inside a frame
 * ends the connection even if caught, one before its first byte does not (see
 * {@link LengthFieldReader}). Immutable and thread-safe.
 */
public final class FixedLengthReader implements ConnectionReader {
    private final int frameLength;
    private final FrameHandler handler;

    private FixedLengthReader(int frameLength, FrameHandler handler) {
        if (frameLength <= 0) {
            throw new IllegalArgumentException("frameLength: " + frameLength + " (expected: > 0)");
        }
        this.frameLength = frameLength;
        this.handler = Objects.requireNonNull(handler, "handler");
    }

    /** A reader of {@code frameLength}-byte frames (must be positive). */
    public static FixedLengthReader of(int frameLength, FrameHandler handler) {
        return new FixedLengthReader(frameLength, handler);
    }

    /** The frame length in bytes. */
    public int frameLength() {
        return frameLength;
    }

    /**
     * Checks that {@code frame} is exactly {@code frameLength} bytes, for a sender that writes
     * this format; returns it unchanged.
     *
     * @throws IllegalArgumentException otherwise
     */
    public byte[] encode(byte[] frame) {
        if (frame.length != frameLength) {
            throw new IllegalArgumentException("frame of " + frame.length + " bytes (expected: " + frameLength + ")");
        }
        return frame;
    }

    @Override
    public void read(Sender sender, Connection connection) throws Exception {
        // A read timeout inside the frame ends the connection.
        handler.onFrame(sender, CutFrames.read(connection, Connection::readBytes, frameLength));
    }
}
