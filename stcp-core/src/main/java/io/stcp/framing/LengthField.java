package io.stcp.framing;

import io.stcp.internal.DelimitedRead;
import java.nio.ByteOrder;

/** Reads and writes unsigned length fields of 1, 2, 3, 4 or 8 bytes; shared by reader and encoders. */
final class LengthField {
    private LengthField() {}

    static int checkLength(int length) {
        if (length != 1 && length != 2 && length != 3 && length != 4 && length != 8) {
            throw new IllegalArgumentException("lengthFieldLength: " + length + " (expected: 1, 2, 3, 4 or 8)");
        }
        return length;
    }

    /** The largest value a field of {@code length} bytes holds (unsigned; 8 bytes: Long.MAX_VALUE). */
    static long maxValue(int length) {
        return length == 8 ? Long.MAX_VALUE : (1L << (8 * length)) - 1;
    }

    /**
     * The length of an encoded frame of {@code head} bytes before {@code body} bytes and
     * {@code tail} after, summed without overflow: a body within a few bytes of 2<sup>31</sup>
     * made the int sum negative, and the encoder threw NegativeArraySizeException.
     *
     * @throws IllegalArgumentException naming the size, if the frame exceeds the largest array
     */
    static int frameLength(int head, int body, int tail) {
        long length = (long) head + body + tail;
        if (length > DelimitedRead.MAX_ARRAY) {
            throw new IllegalArgumentException("encoded frame of " + length + " bytes (a body of " + body + " and "
                    + (head + (long) tail) + " of framing) exceeds the largest array, " + DelimitedRead.MAX_ARRAY + " bytes");
        }
        return (int) length;
    }

    /** Decodes the unsigned value at {@code b[off .. off+length)}; 8-byte values above Long.MAX_VALUE come out negative. */
    static long get(byte[] b, int off, int length, ByteOrder order) {
        long v = 0;
        for (int i = 0; i < length; i++) {
            int index = order == ByteOrder.BIG_ENDIAN ? off + i : off + length - 1 - i;
            v = (v << 8) | (b[index] & 0xFF);
        }
        return v;
    }

    /** Encodes {@code value} into {@code b[off .. off+length)}. */
    static void put(byte[] b, int off, int length, ByteOrder order, long value) {
        for (int i = 0; i < length; i++) {
            int shift = 8 * (length - 1 - i);
            int index = order == ByteOrder.BIG_ENDIAN ? off + i : off + length - 1 - i;
            b[index] = (byte) (value >>> shift);
        }
    }
}
