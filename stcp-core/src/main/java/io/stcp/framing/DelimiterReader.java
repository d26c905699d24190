package io.stcp.framing;

import io.stcp.Connection;
import io.stcp.ConnectionReader;
import io.stcp.Sender;
import io.stcp.internal.CutFrames;
import io.stcp.internal.DelimitedRead;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * A reader for frames ended by a delimiter: lines, or any byte sequence. Each {@link #read} call
 * reads one frame and hands it to the {@link FrameHandler}.
 *
 * <p>With {@link Builder#lines()} both {@code \n} and {@code \r\n} end a line:
 * <pre>
 *   on the wire                       delivered (stripDelimiter, the default)
 *   h i \r \n b y e \n        --->    "hi", then "bye"
 * </pre>
 * With {@code stripDelimiter(false)} the delimiter stays on the frame ({@code "hi\r\n"}).
 *
 * <p><b>Limits.</b> {@code maxLength} bounds the content, delimiter excluded (default 8192 bytes,
 * must be positive). A frame longer than that fails with {@link FrameTooLongException} as soon as
 * it is known, without buffering the rest; end of stream before a delimiter is an
 * {@link java.io.EOFException}. Either ends only that connection. Reads go through the
 * connection's buffer, so no byte of the next frame is lost. A read timeout inside a frame ends
 * the connection even if caught, one before its first byte does not: see {@link LengthFieldReader}.
 *
 * <p><b>Thread safety.</b> Immutable; one instance can serve every connection of a server.
 */
public final class DelimiterReader implements ConnectionReader {
    /** Default {@code maxLength}: 8192 bytes. */
    public static final int DEFAULT_MAX_LENGTH = 8192;

    private final byte[] delimiter;
    private final boolean lines;
    private final int maxLength;
    private final boolean stripDelimiter;
    private final FrameHandler handler;
    private final CutFrames.FrameRead frames = this::readFrame; // made once: a frame allocates nothing for it
    private final DelimitedRead.Kept kept = this::kept;         // likewise

    private DelimiterReader(Builder b, FrameHandler handler) {
        this.delimiter = b.delimiter.clone();
        this.lines = b.lines;
        this.maxLength = b.maxLength;
        this.stripDelimiter = b.stripDelimiter;
        this.handler = Objects.requireNonNull(handler, "handler");
    }

    /** A builder with the defaults: delimiter {@code \n}, 8192 bytes, delimiter stripped. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void read(Sender sender, Connection connection) throws Exception {
        // A read timeout inside the frame ends the connection.
        handler.onFrame(sender, CutFrames.read(connection, frames, maxLength));
    }

    private byte[] readFrame(Connection connection, int max) throws IOException {
        // A partial delimiter may sit at the end of the buffer; with lines() so may a '\r'.
        int slack = delimiter.length - 1 + (lines ? 1 : 0);
        int limit = (int) Math.min(DelimitedRead.MAX_ARRAY, (long) max + slack + 1);
        DelimitedRead.Bytes read = DelimitedRead.read(connection, delimiter, limit, "frame", kept);
        if (read == null) {
            throw new EOFException("end of stream after 0 bytes of a frame, before its delimiter");
        }
        if (!read.delimited()) {
            throw new FrameTooLongException("frame longer than maxLength " + max + " bytes without a delimiter");
        }
        byte[] frame = read.bytes(); // exactly the bytes delivered
        int content = stripDelimiter ? frame.length : contentLength(frame.length, frame);
        if (content > max) { // the slack let one byte too many through
            throw new FrameTooLongException("frame of " + content + " bytes exceeds maxLength " + max);
        }
        return frame;
    }

    /** The bytes delivered of a frame of {@code length} bytes, delimiter included (see {@link DelimitedRead.Kept}). */
    private int kept(int length, int beforeDelimiter) {
        if (!stripDelimiter) {
            return length;
        }
        return length - delimiter.length - (lines && beforeDelimiter == '\r' ? 1 : 0);
    }

    /** The content of the delimited frame {@code b[0..length)}: the delimiter, and with lines() a '\r' before it, left out. */
    private int contentLength(int length, byte[] b) {
        int content = length - delimiter.length;
        return lines && content > 0 && b[content - 1] == '\r' ? content - 1 : content;
    }

    /** Options for {@link DelimiterReader}; mutable, not thread-safe. */
    public static final class Builder {
        private byte[] delimiter = {'\n'};
        private boolean lines;
        private int maxLength = DEFAULT_MAX_LENGTH;
        private boolean stripDelimiter = true;

        private Builder() {}

        /** Frames end with {@code delimiter} (at least one byte); default {@code \n}. */
        public Builder delimiter(byte[] delimiter) {
            if (Objects.requireNonNull(delimiter, "delimiter").length == 0) {
                throw new IllegalArgumentException("delimiter: empty (expected: at least one byte)");
            }
            this.delimiter = delimiter.clone();
            this.lines = false;
            return this;
        }

        /** Text lines: {@code \n} ends a frame and a {@code \r} before it is stripped too. */
        public Builder lines() {
            this.delimiter = "\n".getBytes(StandardCharsets.US_ASCII);
            this.lines = true;
            return this;
        }

        /** Largest content in bytes, delimiter excluded; default 8192; must be positive. */
        public Builder maxLength(int maxLength) {
            if (maxLength <= 0) {
                throw new IllegalArgumentException("maxLength: " + maxLength + " (expected: > 0)");
            }
            this.maxLength = maxLength;
            return this;
        }

        /** Deliver the content only (true, default) or with its delimiter (false). */
        public Builder stripDelimiter(boolean stripDelimiter) {
            this.stripDelimiter = stripDelimiter;
            return this;
        }

        /** A reader that hands each frame to {@code handler}. */
        public DelimiterReader build(FrameHandler handler) {
            return new DelimiterReader(this, handler);
        }
    }
}
