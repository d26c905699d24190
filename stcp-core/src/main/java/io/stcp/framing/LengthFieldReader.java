package io.stcp.framing;

import io.stcp.Connection;
import io.stcp.ConnectionReader;
import io.stcp.Sender;
import io.stcp.internal.CutFrames;
import java.io.IOException;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * A reader for frames whose header carries the body length. Each {@link #read} call reads one
 * whole frame and hands it to the {@link FrameHandler}.
 *
 * <p>The header is {@code lengthFieldOffset} bytes of anything, then the length field of
 * {@code lengthFieldLength} bytes (1, 2, 3, 4 or 8; unsigned; big- or little-endian). The number of
 * bytes that follow the length field is <i>value + lengthAdjustment</i>.
 *
 * <p>The common case — a 4-byte big-endian length of the body, header stripped (the defaults):
 * <pre>
 *   on the wire (9 bytes)                delivered (5 bytes)
 *   +-------------+-------------+        +-------------+
 *   | 00 00 00 05 | h e l l o   |  --->  | h e l l o   |
 *   +-------------+-------------+        +-------------+
 * </pre>
 *
 * <p>A 2-byte little-endian length that counts the whole frame, header included, after a 1-byte
 * type: {@code lengthFieldOffset(1).lengthFieldLength(2).byteOrder(LITTLE_ENDIAN)
 * .lengthAdjustment(-3).stripHeader(false)}:
 * <pre>
 *   on the wire (8 bytes)                delivered (8 bytes, unchanged)
 *   +------+-------+-----------+         +------+-------+-----------+
 *   | 0x07 | 08 00 | a b c d e |  --->   | 0x07 | 08 00 | a b c d e |
 *   +------+-------+-----------+         +------+-------+-----------+
 *    type   len=8   8 - 3 = 5 bytes follow
 * </pre>
 *
 * <p><b>Limits.</b> {@code maxFrameLength} bounds the whole frame, <b>header included</b> (default
 * 1 MiB, must be positive). A larger announced length fails with {@link FrameTooLongException}
 * <i>before</i> the body is read (a connection's first frame whose header is a TLS record's, TLS
 * on one side only, says so in the message); a length that comes out negative fails with
 * {@link CorruptFrameException}, and so does a zero-length body when
 * {@link Builder#rejectEmptyFrames(boolean)} is set; end of stream inside a frame is an
 * {@link java.io.EOFException}. Each of these ends only that connection. Memory follows the bytes
 * received, not the length announced: the body's array grows as it arrives (see
 * {@link Connection#readBytes(int)}), and the server's frame timeout closes a peer that stops in
 * the middle. A read timeout (or read deadline) inside a frame ends the connection even if a
 * reader around this one catches it: the frame's bytes read so far are gone with the call, and the
 * next call would take the rest for a frame (a reader that reads on in the same call finds the end
 * of stream instead); one before the frame's first byte leaves it usable,
 * as any read timeout does (a reader may answer it with a ping).
 *
 * <p><b>Thread safety.</b> Immutable; one instance can serve every connection of a server.
 */
public final class LengthFieldReader implements ConnectionReader {
    /** Default {@code maxFrameLength}: 1 MiB. */
    public static final int DEFAULT_MAX_FRAME_LENGTH = 1 << 20;

    private final int offset;
    private final int fieldLength;
    private final ByteOrder order;
    private final int adjustment;
    private final boolean stripHeader;
    private final int maxFrameLength;
    private final boolean rejectEmpty;
    private final FrameHandler handler;
    private final CutFrames.FrameRead frames = this::readFrame; // made once: a frame allocates nothing for it

    private LengthFieldReader(Builder b, FrameHandler handler) {
        this.offset = b.offset;
        this.fieldLength = b.fieldLength;
        this.order = b.order;
        this.adjustment = b.adjustment;
        this.stripHeader = b.stripHeader;
        this.maxFrameLength = b.maxFrameLength;
        this.rejectEmpty = b.rejectEmpty;
        this.handler = Objects.requireNonNull(handler, "handler");
    }

    /** A builder with the defaults: offset 0, 4 bytes, big-endian, adjustment 0, header stripped, 1 MiB. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void read(Sender sender, Connection connection) throws Exception {
        // A read timeout inside the frame ends the connection.
        handler.onFrame(sender, CutFrames.read(connection, frames, maxFrameLength));
    }

    private byte[] readFrame(Connection connection, int max) throws IOException {
        int headerLength = offset + fieldLength;
        byte[] header = connection.readBytes(headerLength);
        long value = LengthField.get(header, offset, fieldLength, order);
        if (value < 0 || value > 1L << 40) { // beyond any int-sized frame; keeps the sum below exact
            throw new FrameTooLongException("length field " + Long.toUnsignedString(value)
                    + " exceeds maxFrameLength " + max + tlsHint(connection, header));
        }
        long body = value + adjustment;
        if (body < 0) {
            throw new CorruptFrameException("length field " + Long.toUnsignedString(value) + " with adjustment "
                    + adjustment + " gives a negative body length");
        }
        if (body == 0 && rejectEmpty) {
            throw new CorruptFrameException("empty frame (length field " + value + ") where empty frames are rejected");
        }
        long frame = headerLength + body;
        if (frame > max) {
            throw new FrameTooLongException("frame of " + frame + " bytes (length field " + value
                    + ") exceeds maxFrameLength " + max + tlsHint(connection, header));
        }
        // readBytes grows its array as the body arrives: an announced length costs nothing until sent.
        return stripHeader ? connection.readBytes((int) body) : connection.readBytes(header, (int) body);
    }

    /**
     * What a too long first frame's header says if it is a TLS record's — a TLS peer meeting plain
     * text, whose record header read as a length gives hundreds of megabytes: a client's hello
     * ({@code 16 03 01}) on a plain port, or a TLS server's alert ({@code 15 03 03}) to a client
     * that sent plain text. Empty otherwise, and for any later frame.
     */
    private static String tlsHint(Connection connection, byte[] header) {
        boolean firstFrame = connection.bytesRead() == header.length;
        if (header.length < 3 || !firstFrame || header[1] != 3 || header[2] < 0 || header[2] > 4) { // TLS 1.x: 03 00-04
            return "";
        }
        String bytes = String.format(" (its first bytes, %02x %02x %02x, ", header[0], header[1], header[2]);
        return switch (header[0]) {
            case 0x16 -> bytes + "begin a TLS handshake record: a TLS peer on a plain-text connection?)";
            case 0x15 -> bytes + "begin a TLS alert record: a TLS peer refusing plain text, say a plain-text client on a TLS port?)";
            default -> "";
        };
    }

    /** Options for {@link LengthFieldReader}; mutable, not thread-safe. */
    public static final class Builder {
        private int offset;
        private int fieldLength = 4;
        private ByteOrder order = ByteOrder.BIG_ENDIAN;
        private int adjustment;
        private boolean stripHeader = true;
        private int maxFrameLength = DEFAULT_MAX_FRAME_LENGTH;
        private boolean rejectEmpty;

        private Builder() {}

        /** Bytes before the length field, part of the header; default 0, not negative. */
        public Builder lengthFieldOffset(int offset) {
            if (offset < 0) {
                throw new IllegalArgumentException("lengthFieldOffset: " + offset + " (expected: >= 0)");
            }
            this.offset = offset;
            return this;
        }

        /** Length field size in bytes: 1, 2, 3, 4 (default) or 8. */
        public Builder lengthFieldLength(int length) {
            this.fieldLength = LengthField.checkLength(length);
            return this;
        }

        /** Byte order of the length field; default big-endian. */
        public Builder byteOrder(ByteOrder order) {
            this.order = Objects.requireNonNull(order, "byteOrder");
            return this;
        }

        /** Added to the length value to get the bytes that follow the field; default 0; may be negative. */
        public Builder lengthAdjustment(int adjustment) {
            this.adjustment = adjustment;
            return this;
        }

        /** Deliver only the body (true, default) or header and body (false). */
        public Builder stripHeader(boolean stripHeader) {
            this.stripHeader = stripHeader;
            return this;
        }

        /**
         * Largest frame, <b>header included</b>, in bytes; default 1 MiB; must be positive and at
         * most {@code Integer.MAX_VALUE - 8} (the largest array a JVM allocates).
         */
        public Builder maxFrameLength(int maxFrameLength) {
            if (maxFrameLength <= 0 || maxFrameLength > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("maxFrameLength: " + maxFrameLength
                        + " (expected: 1 .. " + (Integer.MAX_VALUE - 8) + ")");
            }
            this.maxFrameLength = maxFrameLength;
            return this;
        }

        /**
         * Whether a frame with an empty body fails with {@link CorruptFrameException} (as the Go
         * documentation's example does); default false: empty frames are delivered.
         */
        public Builder rejectEmptyFrames(boolean rejectEmpty) {
            this.rejectEmpty = rejectEmpty;
            return this;
        }

        /**
         * A reader that hands each frame to {@code handler}.
         *
         * @throws IllegalArgumentException if the header alone ({@code lengthFieldOffset +
         *     lengthFieldLength}) is longer than {@code maxFrameLength}: no frame could be read
         */
        public LengthFieldReader build(FrameHandler handler) {
            if ((long) offset + fieldLength > maxFrameLength) {
                throw new IllegalArgumentException("lengthFieldOffset + lengthFieldLength: " + ((long) offset + fieldLength)
                        + " bytes of header (expected: at most maxFrameLength, " + maxFrameLength + ")");
            }
            return new LengthFieldReader(this, handler);
        }
    }
}
