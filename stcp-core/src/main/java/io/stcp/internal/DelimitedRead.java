package io.stcp.internal;

import io.stcp.Connection;
import io.stcp.framing.FrameTooLongException;
import java.io.EOFException;
import java.io.IOException;
import java.util.Arrays;

/**
 * Reads a value that ends with a delimiter — for {@link io.stcp.framing.DelimiterReader} and
 * {@link Connection#readLine(int)}: through {@link Connection#readUntil}, which scans the
 * connection's buffer, into an array that doubles as bytes arrive (so memory follows the bytes
 * received, not the limit), and never more than {@code limit} bytes, so the rest of a value too
 * long is left unread; the caller decides what a value that reached the limit undelimited is.
 * What the array holds beyond a read buffer's worth is reserved from the server's
 * {@link InboundBudget} while it fills ({@link ArrayGrowth#reserve}).
 */
public final class DelimitedRead {
    /** The largest array a JVM allocates. */
    public static final int MAX_ARRAY = Integer.MAX_VALUE - 8;
    private static final int FIRST = 256;

    private DelimitedRead() {}

    /**
     * The bytes read, {@code bytes[0..length)}: up to and including the delimiter when
     * {@code delimited}, else {@code limit} bytes that do not end with it.
     */
    public record Bytes(byte[] bytes, int length, boolean delimited) {}

    /**
     * Reads until the bytes read end with {@code delimiter}.
     *
     * @param limit the most bytes to take, delimiter included
     * @param what names the value in errors ("line", "frame")
     * @return the bytes, or null at end of stream before the first byte
     * @throws FrameTooLongException if the bytes would need more than the server's inbound budget
     * @throws EOFException at end of stream after some bytes, before {@code limit}
     */
    public static Bytes read(Connection connection, byte[] delimiter, int limit, String what)
            throws IOException {
        byte last = delimiter[delimiter.length - 1];
        ConnectionInput input = connection instanceof RealConnection rc ? rc.input() : null;
        byte[] buf = new byte[Math.min(limit, FIRST)];
        int n = 0;
        ArrayGrowth growth = new ArrayGrowth(input);
        try {
            while (true) {
                if (n == buf.length) {
                    int grown = (int) Math.min(limit, 2L * buf.length);
                    growth.reserve(grown, true);
                    buf = Arrays.copyOf(buf, grown);
                }
                int read = connection.readUntil(last, buf, n, buf.length - n); // never past limit bytes
                if (read < 0) {
                    if (n == 0) {
                        return null;
                    }
                    throw new EOFException("end of stream after " + n + " bytes of a " + what + ", before its delimiter");
                }
                n += read;
                if (buf[n - 1] == last && endsWith(buf, n, delimiter)) {
                    return new Bytes(buf, n, true);
                }
                if (n == limit) {
                    return new Bytes(buf, n, false);
                }
            }
        } finally {
            growth.release();
        }
    }

    private static boolean endsWith(byte[] buf, int n, byte[] delimiter) {
        return n >= delimiter.length && Arrays.equals(buf, n - delimiter.length, n, delimiter, 0, delimiter.length);
    }
}
