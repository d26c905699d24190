package io.stcp.internal;

import io.stcp.framing.FrameTooLongException;
import java.io.EOFException;
import java.io.IOException;
import java.util.Arrays;

/**
 * {@link io.stcp.Connection#readLine(int)}: the bytes up to a {@code \n}, read through the
 * input's buffer into an array that doubles as they arrive (so memory follows the bytes
 * received), and never more than the longest line allowed — its content, a {@code \r} and the
 * {@code \n} — so the rest of a line too long is left unread.
 */
final class LineRead {
    private static final int FIRST = 128;
    /** The largest array a JVM allocates. */
    private static final int MAX_ARRAY = Integer.MAX_VALUE - 8;

    private LineRead() {}

    static byte[] read(ConnectionInput input, int maxLength) throws IOException {
        if (maxLength <= 0) {
            throw new IllegalArgumentException("maxLength: " + maxLength + " (expected: > 0)");
        }
        int limit = (int) Math.min(MAX_ARRAY, maxLength + 2L);
        byte[] line = new byte[Math.min(limit, FIRST)];
        int n = 0;
        while (true) {
            if (n == line.length) {
                if (n == limit) {
                    throw new FrameTooLongException("line longer than maxLength " + maxLength + " bytes");
                }
                line = Arrays.copyOf(line, (int) Math.min(limit, 2L * n));
            }
            int r = input.readUntil((byte) '\n', line, n, line.length - n);
            if (r < 0) {
                if (n == 0) {
                    return null;
                }
                throw new EOFException("end of stream after " + n + " bytes of a line");
            }
            n += r;
            if (line[n - 1] == '\n') {
                int length = n > 1 && line[n - 2] == '\r' ? n - 2 : n - 1;
                if (length > maxLength) {
                    throw new FrameTooLongException("line of " + length + " bytes exceeds maxLength " + maxLength);
                }
                return Arrays.copyOf(line, length);
            }
        }
    }
}
