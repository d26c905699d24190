package io.stcp.internal;

import io.stcp.Connection;
import io.stcp.framing.FrameTooLongException;
import java.io.IOException;

/**
 * {@link Connection#readLine(int)}: the bytes up to a {@code \n} ({@link DelimitedRead}). Of a
 * line too long it takes {@code maxLength + 1} bytes, one more only when the last of them is a
 * {@code \r} (a {@code \n} after it ends a line of exactly {@code maxLength}), and never its
 * {@code \n}: a caller that answers with an error and skips to the {@code \n} lands on the next
 * line whatever the line's length. A read timeout after the line's first byte ends the connection
 * even if caught ({@link CutFrames}): the bytes taken are gone with the call.
 */
final class LineRead {
    private static final byte[] LF = {'\n'};
    /** A line's bytes without its {@code \n}, and without a {@code \r} before it. */
    private static final DelimitedRead.Kept LINE = (length, before) -> length - (before == '\r' ? 2 : 1);

    private LineRead() {}

    static byte[] read(Connection connection, int maxLength) throws IOException {
        if (maxLength <= 0) {
            throw new IllegalArgumentException("maxLength: " + maxLength + " (expected: > 0)");
        }
        return CutFrames.read(connection, LineRead::readLine, maxLength); // a timeout inside the line ends the connection
    }

    private static byte[] readLine(Connection connection, int maxLength) throws IOException {
        int limit = (int) Math.min(DelimitedRead.MAX_ARRAY, maxLength + 1L);
        // maxLength + 1 bytes and no \n: too long, unless they end with the \r of a \r\n (crAtLimit),
        // whose line is copied out of their array counted as any other copy
        DelimitedRead.Bytes read = DelimitedRead.read(connection, LF, limit, true, "line", LINE);
        if (read == null) {
            return null;
        }
        if (!read.delimited()) {
            throw new FrameTooLongException("line longer than maxLength " + maxLength + " bytes");
        }
        return read.bytes(); // exactly the line's bytes
    }
}
