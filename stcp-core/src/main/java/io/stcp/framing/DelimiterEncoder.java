package io.stcp.framing;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Appends a delimiter to a frame's content, the inverse of {@link DelimiterReader}: whatever it
 * returns, the reader with the same delimiter gives back as that same content. So content the
 * reader would end early is rejected with {@link IllegalArgumentException}:
 * <ul>
 *   <li>content that contains the delimiter;
 *   <li>content whose end, with the delimiter after it, holds the delimiter earlier — with a
 *       delimiter that overlaps itself: {@code "\r\n\r\n"} after content ending in
 *       {@code "\r\n"}, or {@code "aa"} after content ending in {@code 'a'};
 * </ul>
 * {@link #lines()} ends content that itself ends with {@code '\r'} with {@code "\r\n"} rather
 * than {@code "\n"}, since {@link DelimiterReader.Builder#lines()} strips a {@code '\r'} before
 * the {@code '\n'}: {@code "a\r"} goes out as {@code "a\r\r\n"} and comes back as {@code "a\r"}.
 * Immutable and thread-safe.
 */
public final class DelimiterEncoder {
    private final byte[] delimiter;
    private final boolean lines;

    private DelimiterEncoder(byte[] delimiter, boolean lines) {
        if (delimiter.length == 0) {
            throw new IllegalArgumentException("delimiter: empty (expected: at least one byte)");
        }
        this.delimiter = delimiter.clone();
        this.lines = lines;
    }

    /**
     * Lines ended by {@code \n} (by {@code \r\n} after content that ends with {@code \r}), for
     * {@link DelimiterReader.Builder#lines()}; content must not contain {@code \n}.
     */
    public static DelimiterEncoder lines() {
        return new DelimiterEncoder("\n".getBytes(StandardCharsets.US_ASCII), true);
    }

    /** Frames ended by {@code delimiter}. */
    public static DelimiterEncoder of(byte[] delimiter) {
        return new DelimiterEncoder(delimiter, false);
    }

    /**
     * Returns a new array: {@code content} then the delimiter.
     *
     * @throws IllegalArgumentException if the reader would not give back {@code content} whole
     *     (see the class comment), or if the frame would exceed the largest array
     */
    public byte[] encode(byte[] content) {
        // A line reader strips one '\r' before the '\n': give it one of its own to strip.
        boolean cr = lines && content.length > 0 && content[content.length - 1] == '\r';
        int end = cr ? content.length + 1 : content.length;
        byte[] frame = Arrays.copyOf(content, LengthField.frameLength(0, end, delimiter.length));
        if (cr) {
            frame[content.length] = '\r';
        }
        System.arraycopy(delimiter, 0, frame, end, delimiter.length);
        // The reader ends the frame at the first delimiter it sees: that must be the one appended.
        for (int i = 0; i < content.length; i++) {
            if (Arrays.equals(frame, i, i + delimiter.length, delimiter, 0, delimiter.length)) {
                throw new IllegalArgumentException(i + delimiter.length <= content.length
                        ? "content contains the delimiter at offset " + i
                        : "content's last " + (content.length - i) + " bytes and the delimiter after them"
                                + " hold the delimiter at offset " + i + ": the frame would end there");
            }
        }
        return frame;
    }
}
