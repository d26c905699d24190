package io.stcp.internal;

import java.io.EOFException;
import java.io.IOException;
import java.util.Arrays;

/**
 * A value longer than what is buffered, read into an array that grows as its bytes arrive, so
 * that memory follows the bytes a peer sends, not the length it announces: by {@link ArrayGrowth},
 * which counts the bytes read, those buffered and those the socket holds, since all belong to the
 * value; so a frame whose bytes are all in the socket is read into one array with no copy of a
 * smaller one, and a frame that trickles in grows fourfold at a time (by a quarter under pressure).
 *
 * <p>Before the first array and before each read, a rest larger than a large read buffer that is
 * not yet in the socket is waited for, where the transport can tell ({@link Transport#awaitInput}:
 * the epoll transport's receive low-water mark). The bytes then wait in the kernel, within its socket
 * buffer limits, and not in an array that lives on through collections while it fills: with 100
 * connections sending 1 MiB frames that was most of the server's cost (BENCHMARKS.md).
 */
final class GrowingRead {

    private GrowingRead() {}

    /**
     * Reads {@code n} bytes, more than {@code input} has buffered (at least one byte is), into an
     * array that starts with a copy of {@code prefix}.
     */
    static byte[] read(ConnectionInput input, byte[] prefix, int n) throws IOException {
        int p = prefix.length;
        int end = p + n;
        ArrayGrowth growth = new ArrayGrowth(input);
        growth.requireFits(end); // before the wait for its rest: a value the budget never holds fails at once
        awaitRest(input, n - input.buffered());
        boolean read = false;
        try {
            // What arrived may exceed a buffer; reserved before it is allocated.
            byte[] b = Arrays.copyOf(prefix, growth.grow((long) p + input.buffered(), end, true));
            int done = 0;
            while (done < n) {
                if (input.buffered() == 0) {
                    awaitRest(input, n - done);
                }
                if (p + done == b.length) {
                    b = Arrays.copyOf(b, growth.grow((long) p + done + input.buffered(), end, true));
                }
                int r = input.read(b, p + done, b.length - p - done);
                if (r < 0) {
                    throw new EOFException("end of stream after " + done + " of " + n + " bytes");
                }
                done += r;
            }
            read = true;
            return b;
        } finally {
            growth.readEnded(read, end); // read: charged while its reader holds it
        }
    }

    /**
     * Lets a large rest wait in the kernel, not in an array that lives on through collections. A
     * wait may end before the rest is all there (the receive window was full: a socket's first
     * large value, before the low-water mark made room for it); reading what came makes room.
     */
    private static void awaitRest(ConnectionInput input, int rest) throws IOException {
        if (rest > ReadBuffers.LARGE) {
            input.awaitInput(rest);
        }
    }
}
