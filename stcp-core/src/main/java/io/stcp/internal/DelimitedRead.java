package io.stcp.internal;

import io.stcp.Connection;
import io.stcp.framing.FrameTooLongException;
import java.io.EOFException;
import java.io.IOException;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * Reads a value that ends with a delimiter — for {@link io.stcp.framing.DelimiterReader} and
 * {@link Connection#readLine(int)}: through {@link Connection#readUntil}, which scans the
 * connection's buffer, and never more than {@code limit} bytes, so the rest of a value too long is
 * left unread; the caller decides what a value that reached the limit undelimited is. The array
 * starts at {@value #FIRST} bytes; one that fills grows as {@link ArrayGrowth} grows it (as
 * {@code readBytes} arrays do), so memory follows the bytes received, not the limit, and what it
 * holds beyond a read buffer's worth is reserved from the server's {@link InboundBudget} while it
 * fills, and while its reader holds the value read ({@link ArrayGrowth#readEnded}). What has
 * arrived of the value is what the array holds and the bytes buffered up to its delimiter, if it
 * is among them; the bytes the socket holds are not counted, since they may be the next values'.
 *
 * <p><b>One array a value.</b> The caller says which of a delimited value's bytes it keeps
 * ({@link Kept}: the delimiter stripped, say), and gets exactly those, in an array of their length.
 * When a growth finds the delimiter buffered, the array grows to exactly the bytes kept and the
 * rest (the delimiter) is passed over in the buffer: the value is that one array (every frame used
 * to be copied out of the array that held it with its delimiter, the copy counted nowhere: up to
 * twice the frame held, a peer choosing how often). An array that holds exactly the bytes kept is
 * returned as it is. When the delimiter arrived after the array's last growth (a guess, longer than
 * the value), the bytes kept are copied out of it, and the copy is counted before it is made
 * ({@link ArrayGrowth#copyOut}): on top of the array when the budget holds both, else in its place,
 * the array's part given back in the same step. It never waits: a copy that waited for room while
 * its array held its part let two long values wait for each other until their deadlines (neither
 * could give its array back before its copy was made).
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

    /** Which of a delimited value's bytes its caller keeps: the first {@link #of} of them. */
    @FunctionalInterface
    public interface Kept {
        /**
         * @param length the value's bytes, delimiter included
         * @param beforeDelimiter the byte before the delimiter (0 to 255), or -1 if there is none
         * @return how many of the first bytes are kept, at most {@code length}
         */
        int of(int length, int beforeDelimiter);
    }

    /**
     * Reads until the bytes read end with {@code delimiter}.
     *
     * @param limit the most bytes to take, delimiter included
     * @param what names the value in errors ("line", "frame")
     * @param kept which bytes of a delimited value are returned
     * @return the bytes, or null at end of stream before the first byte: of a delimited value, an
     *     array of exactly the bytes kept; else {@code limit} bytes that do not end with the delimiter
     * @throws FrameTooLongException if the bytes would need more than the server's inbound budget
     * @throws EOFException at end of stream after some bytes, before {@code limit}
     */
    public static Bytes read(Connection connection, byte[] delimiter, int limit, String what, Kept kept)
            throws IOException {
        return read(connection, delimiter, limit, false, what, kept);
    }

    /**
     * As {@link #read(Connection, byte[], int, String, Kept)}; with {@code crAtLimit} ({@code readLine}'s
     * {@code \r\n}), {@code limit} bytes that end with a {@code \r} take one byte more, and are a
     * delimited value if that byte is the delimiter (one byte long), its bytes kept counted as
     * any copy out of the array is ({@link ArrayGrowth#copyOut}); else they are {@code limit} bytes
     * that do not end with it, the byte more taken too.
     */
    static Bytes read(Connection connection, byte[] delimiter, int limit, boolean crAtLimit, String what, Kept kept)
            throws IOException {
        if (!(connection instanceof RealConnection rc)) {
            return readHeld(connection, delimiter, limit, crAtLimit, what, kept);
        }
        // Its steps on the buffer between reads are reads too: no other thread's read between them
        boolean claimed = rc.beginRead();
        try {
            return readHeld(connection, delimiter, limit, crAtLimit, what, kept);
        } finally {
            rc.endRead(claimed);
        }
    }

    /** {@link #read(Connection, byte[], int, boolean, String, Kept)}, the input the caller's (see {@link RealConnection#beginRead()}). */
    private static Bytes readHeld(Connection connection, byte[] delimiter, int limit, boolean crAtLimit, String what,
                                  Kept kept) throws IOException {
        byte last = delimiter[delimiter.length - 1];
        ConnectionInput input = connection instanceof RealConnection rc ? rc.input() : null;
        byte[] buf = new byte[Math.min(limit, FIRST)];
        int n = 0;
        ArrayGrowth growth = null; // made when the first array is full
        Bytes value = null;        // the value read: charged while its reader holds it
        try {
            while (true) {
                if (n == buf.length) {
                    if (growth == null) {
                        growth = new ArrayGrowth(input);
                    }
                    int through = input == null ? 0 : bufferedThrough(input, buf, n, delimiter, limit - n);
                    if (through > 0) { // the value's end has arrived: one array of the bytes kept
                        value = ending(growth, input, buf, n, through, delimiter, kept);
                        return value;
                    }
                    buf = Arrays.copyOf(buf, grown(growth, input, buf, limit));
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
                    value = delimited(growth, buf, n, delimiter, kept);
                    return value;
                }
                if (n == limit) {
                    if (crAtLimit && buf[n - 1] == '\r' && connection.readUnsignedByte() == (last & 0xFF)) {
                        value = keeping(growth, buf, kept.of(n + 1, '\r')); // the delimiter, past the limit
                    } else {
                        value = new Bytes(buf, n, false);
                    }
                    return value;
                }
            }
        } finally {
            if (growth != null) {
                growth.readEnded(value != null, value == null ? 0 : value.bytes().length);
            }
        }
    }

    /** The next length of the array {@code value}, full, whose end is not buffered: grown from the bytes it holds and those buffered. */
    private static int grown(ArrayGrowth growth, ConnectionInput input, byte[] value, int limit) throws IOException {
        int n = value.length;
        if (input == null) {
            return growth.grow(n, limit, false);
        }
        return growth.grow(n + (long) Math.min(input.buffered(), limit - n), limit, false);
    }

    /**
     * The value whose first bytes fill {@code value[0..n)} and whose rest, delimiter included, are
     * the first {@code through} buffered bytes: an array of the bytes kept, reserved as the value's
     * last growth ({@code value} itself when it holds exactly them; a copy counted as in
     * {@link #delimited} when they are fewer); the rest is passed over.
     */
    private static Bytes ending(ArrayGrowth growth, ConnectionInput input, byte[] value, int n, int through,
                                byte[] delimiter, Kept kept) throws IOException {
        int length = n + through;
        int before = length - delimiter.length - 1; // the byte before the delimiter: in value, or buffered
        int keep = kept.of(length, before < 0 ? -1 : (before < n ? value[before] : input.bufferedByte(before - n)) & 0xFF);
        byte[] b;
        int taken = Math.max(0, keep - n); // none when the bytes dropped begin in value (a '\r', a delimiter's first bytes)
        if (taken > 0) {
            growth.grow(keep, keep, false);
            b = Arrays.copyOf(value, keep);
            input.takeBuffered(b, n, taken);
        } else if (keep == n) {
            b = value; // exactly the bytes kept: the delimiter is all buffered
        } else {
            growth.copyOut(keep);
            b = Arrays.copyOf(value, keep);
        }
        input.takeBuffered(null, 0, through - taken);
        return new Bytes(b, keep, true);
    }

    /**
     * The delimited value {@code buf[0..n)}: the array itself when it holds exactly the bytes kept,
     * else a copy of them, counted by the array's {@code growth} (null: the first array, within a
     * buffer's worth) before it is made ({@link ArrayGrowth#copyOut}).
     */
    private static Bytes delimited(@Nullable ArrayGrowth growth, byte[] buf, int n, byte[] delimiter, Kept kept) {
        return keeping(growth, buf, kept.of(n, n > delimiter.length ? buf[n - delimiter.length - 1] & 0xFF : -1));
    }

    /**
     * The delimited value of the first {@code keep} bytes of {@code buf}: the array itself when it
     * holds exactly them, else a copy, counted by the array's {@code growth} (null: the first array,
     * within a buffer's worth) before it is made.
     */
    private static Bytes keeping(@Nullable ArrayGrowth growth, byte[] buf, int keep) {
        if (keep == buf.length) {
            return new Bytes(buf, keep, true);
        }
        if (growth != null) {
            growth.copyOut(keep);
        }
        return new Bytes(Arrays.copyOf(buf, keep), keep, true);
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
