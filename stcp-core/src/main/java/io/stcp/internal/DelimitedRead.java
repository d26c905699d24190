package io.stcp.internal;

import io.stcp.Connection;
import io.stcp.framing.FrameTooLongException;
import java.io.EOFException;
import java.io.IOException;
import java.util.Arrays;

/**
 * Reads a value that ends with a delimiter — for {@link io.stcp.framing.DelimiterReader} and
 * {@link Connection#readLine(int)}: through {@link Connection#readUntil}, which scans the
 * connection's buffer, and never more than {@code limit} bytes, so the rest of a value too long is
 * left unread; the caller decides what a value that reached the limit undelimited is. The array
 * starts at {@value #FIRST} bytes; one that fills grows as {@link ArrayGrowth} grows it (as
 * {@code readBytes} arrays do), so memory follows the bytes received, not the limit, and what it
 * holds beyond a read buffer's worth is reserved from the server's {@link InboundBudget} while it
 * fills. What has arrived of the value is what the array holds and the bytes buffered up to its
 * delimiter, if it is among them (then the array grows to hold exactly the value, which completes
 * it); the bytes the socket holds are not counted, since they may be the next values'.
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
        ArrayGrowth growth = null; // made when the first array is full
        try {
            while (true) {
                if (n == buf.length) {
                    if (growth == null) {
                        growth = new ArrayGrowth(input);
                    }
                    buf = Arrays.copyOf(buf, grown(growth, input, buf, delimiter, limit));
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
            if (growth != null) {
                growth.release();
            }
        }
    }

    /**
     * The next length of the array {@code value}, full: exactly the value when its delimiter is
     * buffered, else grown from the bytes it holds and those buffered.
     */
    private static int grown(ArrayGrowth growth, ConnectionInput input, byte[] value, byte[] delimiter, int limit)
            throws IOException {
        int n = value.length;
        if (input == null) {
            return growth.grow(n, limit, false);
        }
        int through = bufferedThrough(input, value, n, delimiter, limit - n);
        if (through > 0) {
            return growth.grow(n + through, n + through, false); // the value's end has arrived
        }
        return growth.grow(n + (long) Math.min(input.buffered(), limit - n), limit, false);
    }

    /**
     * The buffered bytes, of the first {@code max}, up to and including the first delimiter that
     * ends among them (its first bytes may be the last of {@code value[0..n)}), or 0 when none does.
     */
    private static int bufferedThrough(ConnectionInput input, byte[] value, int n, byte[] delimiter, int max) {
        byte last = delimiter[delimiter.length - 1];
        for (int k = input.bufferedIndexOf(last, 0, max); k >= 0; k = input.bufferedIndexOf(last, k + 1, max)) {
            if (endsAt(input, value, n, delimiter, k)) {
                return k + 1;
            }
        }
        return 0;
    }

    /** Whether the delimiter, whose last byte is the buffered byte {@code k}, precedes it too. */
    private static boolean endsAt(ConnectionInput input, byte[] value, int n, byte[] delimiter, int k) {
        int d = delimiter.length;
        for (int j = 1; j < d; j++) {
            int i = k - j; // among the buffered bytes; a negative one is value[n + i]
            if (n + i < 0 || delimiter[d - 1 - j] != (i >= 0 ? input.bufferedByte(i) : value[n + i])) {
                return false;
            }
        }
        return true;
    }

    private static boolean endsWith(byte[] buf, int n, byte[] delimiter) {
        return n >= delimiter.length && Arrays.equals(buf, n - delimiter.length, n, delimiter, 0, delimiter.length);
    }
}
