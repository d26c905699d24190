package io.stcp.framing;

import java.nio.ByteOrder;
import java.util.Objects;

/**
 * Prepends a length field to a body, the inverse of {@link LengthFieldReader} with offset 0:
 * {@code encode("hello")} with the defaults gives {@code 00 00 00 05 h e l l o}. The value written
 * is {@code body.length - lengthAdjustment}, matching the reader's adjustment.
 *
 * <p>Immutable and thread-safe. A body whose length does not fit the field, or whose frame would
 * exceed the largest array, is rejected with {@link IllegalArgumentException}.
 */
public final class LengthFieldEncoder {
    private final int fieldLength;
    private final ByteOrder order;
    private final int adjustment;

    private LengthFieldEncoder(int fieldLength, ByteOrder order, int adjustment) {
        this.fieldLength = LengthField.checkLength(fieldLength);
        this.order = Objects.requireNonNull(order, "order");
        this.adjustment = adjustment;
    }

    /** A 4-byte big-endian length of the body, the stcp examples' format. */
    public static LengthFieldEncoder standard() {
        return new LengthFieldEncoder(4, ByteOrder.BIG_ENDIAN, 0);
    }

    /** An encoder for a field of {@code fieldLength} bytes (1, 2, 3, 4 or 8) in {@code order}. */
    public static LengthFieldEncoder of(int fieldLength, ByteOrder order, int lengthAdjustment) {
        return new LengthFieldEncoder(fieldLength, order, lengthAdjustment);
    }

    /** Returns a new array: the length field, then {@code body}. */
    public byte[] encode(byte[] body) {
        long value = (long) body.length - adjustment;
        if (value < 0 || value > LengthField.maxValue(fieldLength)) {
            throw new IllegalArgumentException("body of " + body.length + " bytes does not fit a " + fieldLength
                    + "-byte length field with adjustment " + adjustment);
        }
        byte[] frame = new byte[LengthField.frameLength(fieldLength, body.length, 0)];
        LengthField.put(frame, 0, fieldLength, order, value);
        System.arraycopy(body, 0, frame, fieldLength, body.length);
        return frame;
    }
}
