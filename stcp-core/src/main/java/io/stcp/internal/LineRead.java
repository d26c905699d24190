package io.stcp.internal;

import io.stcp.Connection;
import io.stcp.framing.FrameTooLongException;
import java.io.IOException;
import java.util.Arrays;

/**
 * {@link Connection#readLine(int)}: the bytes up to a {@code \n} ({@link DelimitedRead}), taking
 * at most the longest line allowed — its content, a {@code \r} and the {@code \n}.
 */
final class LineRead {
    private static final byte[] LF = {'\n'};

    private LineRead() {}

    static byte[] read(Connection connection, int maxLength) throws IOException {
        if (maxLength <= 0) {
            throw new IllegalArgumentException("maxLength: " + maxLength + " (expected: > 0)");
        }
        int limit = (int) Math.min(DelimitedRead.MAX_ARRAY, maxLength + 2L);
        DelimitedRead.Bytes read = DelimitedRead.read(connection, LF, limit, maxLength, "line");
        if (read == null) {
            return null;
        }
        byte[] line = read.bytes();
        int n = read.length();
        int length = n > 1 && line[n - 2] == '\r' ? n - 2 : n - 1;
        if (length > maxLength) {
            throw new FrameTooLongException("line of " + length + " bytes exceeds maxLength " + maxLength);
        }
        return Arrays.copyOf(line, length);
    }
}
