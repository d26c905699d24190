package io.stcp.framing;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Appends a delimiter to a frame's content, the inverse of {@link DelimiterReader}. Content that
 * already contains the delimiter would split into two frames on the other side, so it is rejected
 * with {@link IllegalArgumentException}. Immutable and thread-safe.
 */
public final class DelimiterEncoder {
    private final byte[] delimiter;

    private DelimiterEncoder(byte[] delimiter) {
        if (delimiter.length == 0) {
            throw new IllegalArgumentException("delimiter: empty (expected: at least one byte)");
        }
        this.delimiter = delimiter.clone();
    }

    /** Lines ended by {@code \n}. */
    public static DelimiterEncoder lines() {
        return new DelimiterEncoder("\n".getBytes(StandardCharsets.US_ASCII));
    }

    /** Frames ended by {@code delimiter}. */
    public static DelimiterEncoder of(byte[] delimiter) {
        return new DelimiterEncoder(delimiter);
    }

    /** Returns a new array: {@code content} then the delimiter. */
    public byte[] encode(byte[] content) {
        for (int i = 0; i + delimiter.length <= content.length; i++) {
            if (Arrays.equals(content, i, i + delimiter.length, delimiter, 0, delimiter.length)) {
                throw new IllegalArgumentException("content contains the delimiter at offset " + i);
            }
        }
        byte[] frame = Arrays.copyOf(content, content.length + delimiter.length);
        System.arraycopy(delimiter, 0, frame, content.length, delimiter.length);
        return frame;
    }
}
