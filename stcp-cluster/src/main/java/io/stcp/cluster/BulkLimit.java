package io.stcp.cluster;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * The subscriber connection's input as Jedis reads it, with every bulk string longer than a limit
 * skipped as it streams past: Jedis allocates each bulk whole at the length its header announces,
 * so a message published on a node's channel (by a peer, or anyone allowed {@code PUBLISH}) would
 * cost the node that much memory, up to Redis's pub/sub output limit (32 MiB by default) or
 * whatever an operator set there. Here no more than {@code limit} bytes of one bulk reach Jedis.
 *
 * <pre>
 * from Redis:  *3\r\n $7\r\nmessage\r\n $11\r\ntest:node:a\r\n $40000000\r\n [40,000,000 bytes] \r\n  *3\r\n ...
 * to Jedis:    *3\r\n $7\r\nmessage\r\n $11\r\ntest:node:a\r\n $-1\r\n                                   *3\r\n ...
 * </pre>
 *
 * A bulk longer than the limit is handed on as a null bulk ({@code $-1}), which Redis never sends
 * as a message's payload, so Jedis calls {@code onMessage} with {@code null}; its bytes are read
 * and dropped through this stream's 8 KiB buffer, and {@link #skipped()} says how long it was. Every
 * other byte passes unchanged. No RESP reply nests anything that needs tracking here: an
 * aggregate's header is a line of its own and its elements follow as elements, so the stream only
 * needs to know whether it is at an element's type byte, in a line, in a bulk's header or in a
 * bulk's bytes.
 *
 * <p><b>States</b> (the subscribing thread's only): at a type byte ({@code TYPE}) — in a line
 * passed on up to its LF ({@code LINE}: a simple string, an error, an integer, an aggregate's
 * header) — collecting a bulk's header ({@code HEADER}, held back until its LF: at most
 * {@link #MAX_HEADER} bytes, longer fails the read) — in a bulk passed on ({@code BODY}) or skipped
 * ({@code SKIP}), {@link #left} bytes to go with its CRLF; then {@code TYPE} again. A header once
 * complete is handed on from {@link #pending}, as it came or as {@code $-1}.
 */
final class BulkLimit extends InputStream {
    /** A bulk's header: its type byte, a length of up to 11 characters (a sign and 10 digits), CRLF. */
    static final int MAX_HEADER = 14;
    private static final byte[] NULL_BULK = "$-1\r\n".getBytes(StandardCharsets.US_ASCII);
    private static final int TYPE = 0;
    private static final int LINE = 1;
    private static final int HEADER = 2;
    private static final int BODY = 3;
    private static final int SKIP = 4;

    private final InputStream in;
    private final long limit;
    private final byte[] buf = new byte[8192];
    private int pos; // buf[pos, end): read from in, not yet looked at
    private int end;
    private final byte[] header = new byte[MAX_HEADER];
    private int headerLength;
    private byte[] pending = NULL_BULK; // pending[pendingPos, pendingEnd): a header to hand on
    private int pendingPos;
    private int pendingEnd;
    private int state = TYPE;
    private long left;
    private long skipped = -1; // read on the subscribing thread, as the rest
    private final byte[] one = new byte[1];

    /** {@code in} with every bulk longer than {@code limit} bytes skipped. */
    BulkLimit(InputStream in, long limit) {
        this.in = in;
        this.limit = limit;
    }

    /** The length of the last bulk skipped, or -1 if none was. */
    long skipped() {
        return skipped;
    }

    @Override
    public int read() throws IOException {
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        java.util.Objects.checkFromIndexSize(off, len, b.length);
        if (len == 0) {
            return 0;
        }
        int n = 0;
        while (n < len) {
            if (pendingPos < pendingEnd) {
                int k = Math.min(len - n, pendingEnd - pendingPos);
                System.arraycopy(pending, pendingPos, b, off + n, k);
                pendingPos += k;
                n += k;
                continue;
            }
            if (pos == end) {
                if (n > 0) {
                    break; // hand on what there is rather than wait for more
                }
                int r = in.read(buf, 0, buf.length);
                if (r < 0) {
                    return -1;
                }
                pos = 0;
                end = r;
                continue;
            }
            n += step(b, off + n, len - n);
        }
        return n;
    }

    /** Looks at what is buffered, in the current state; returns how many bytes it put in {@code b}. */
    private int step(byte[] b, int off, int len) throws IOException {
        switch (state) {
            case TYPE -> {
                byte c = buf[pos];
                if (c == '$' || c == '=' || c == '!') { // the bulk types (RESP3's verbatim string and bulk error too)
                    headerLength = 0;
                    state = HEADER;
                    return 0;
                }
                state = LINE;
                return 0;
            }
            case LINE -> {
                int k = 0;
                while (k < len && pos < end) {
                    byte c = buf[pos++];
                    b[off + k++] = c;
                    if (c == '\n') {
                        state = TYPE;
                        break;
                    }
                }
                return k;
            }
            case HEADER -> {
                while (pos < end) {
                    byte c = buf[pos++];
                    if (headerLength == MAX_HEADER) {
                        throw new IOException("a bulk header longer than " + MAX_HEADER + " bytes from Redis");
                    }
                    header[headerLength++] = c;
                    if (c == '\n') {
                        headerDone();
                        break;
                    }
                }
                return 0;
            }
            case BODY -> {
                int k = (int) Math.min(left, Math.min(len, end - pos));
                System.arraycopy(buf, pos, b, off, k);
                pos += k;
                left -= k;
                if (left == 0) {
                    state = TYPE;
                }
                return k;
            }
            default -> { // SKIP
                int k = (int) Math.min(left, end - pos);
                pos += k;
                left -= k;
                if (left == 0) {
                    state = TYPE;
                }
                return 0;
            }
        }
    }

    /** A bulk's header is in {@link #header}: hands it on as it came, or as a null bulk when the bulk is too long. */
    private void headerDone() throws IOException {
        long length = length();
        if (length < 0) { // a null bulk ($-1): no bytes follow
            pass(TYPE);
        } else if (length <= limit) {
            left = length + 2; // and its CRLF
            pass(BODY);
        } else {
            skipped = length;
            left = length + 2;
            pending = NULL_BULK;
            pendingPos = 0;
            pendingEnd = NULL_BULK.length;
            state = SKIP;
        }
    }

    private void pass(int next) {
        pending = header;
        pendingPos = 0;
        pendingEnd = headerLength;
        state = next;
    }

    /** The length in {@link #header} ({@code $<length>\r\n}). */
    private long length() throws IOException {
        int last = headerLength - 2; // before CRLF
        if (last < 2 || header[last] != '\r') {
            throw new IOException("a malformed bulk header from Redis");
        }
        boolean negative = header[1] == '-';
        long length = 0;
        for (int i = negative ? 2 : 1; i < last; i++) {
            int d = header[i] - '0';
            length = length * 10 + d;
            if (d < 0 || d > 9 || length > Integer.MAX_VALUE) { // Jedis reads no longer one (Redis's own limit is 512 MB)
                throw new IOException("a malformed bulk header from Redis");
            }
        }
        return negative ? -length : length;
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
