package io.stcp.framing;

import io.stcp.Connection;
import io.stcp.ConnectionReader;
import io.stcp.Sender;
import java.util.Objects;

/**
 * A reader for frames of one fixed length: each {@link #read} call reads exactly
 * {@code frameLength} bytes and hands them to the {@link FrameHandler}.
 * <pre>
 *   on the wire (frameLength 3)        delivered
 *   a b c d e f               --->     "abc", then "def"
 * </pre>
 * End of stream inside a frame is an {@link java.io.EOFException}. Immutable and thread-safe.
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
        handler.onFrame(sender, connection.readBytes(frameLength));
    }
}
