package io.stcp.internal;

import io.stcp.framing.FrameTooLongException;
import java.io.EOFException;
import java.io.IOException;
import java.util.Arrays;

/**
 * A value longer than what is buffered, read into an array that grows as its bytes arrive, so
 * that memory follows the bytes a peer sends, not the length it announces. The array starts at
 * what has arrived (at least {@value ConnectionInput#MIN_GROWING} bytes) and grows fourfold as
 * more arrives — to the whole value once fourfold would leave less than a buffer to read — so a
 * frame costs few reads and copies and at most four times the bytes received. Growth beyond the
 * first {@value ConnectionInput#BUFFER_SIZE} bytes reserves from the server's
 * {@link InboundBudget} until the array is returned; a value that needs more than the whole budget
 * fails with {@link FrameTooLongException}.
 */
final class GrowingRead {

    private GrowingRead() {}

    /**
     * Reads {@code n} bytes, more than {@code input} has buffered (at least one byte is).
     *
     * @param budget the server's inbound budget, or null
     */
    static byte[] read(ConnectionInput input, int n, InboundBudget budget) throws IOException {
        int bufferSize = ConnectionInput.BUFFER_SIZE;
        byte[] b = new byte[Math.max(ConnectionInput.MIN_GROWING, input.buffered())]; // less than n
        long reserved = 0;
        try {
            int done = 0;
            while (done < n) {
                if (done == b.length) {
                    int grown = (int) (n - 4L * b.length <= bufferSize ? n : 4L * b.length);
                    if (budget != null && grown > bufferSize) {
                        long more = grown - Math.max(b.length, bufferSize);
                        if (reserved + more > budget.limitBytes()) {
                            throw new FrameTooLongException("frame of " + n + " bytes needs more than the server's"
                                    + " inbound budget of " + budget.limitBytes() + " bytes (ServerConfig.inboundBudget)");
                        }
                        budget.reserve(more, input.waitDeadline(System.nanoTime()));
                        reserved += more;
                    }
                    b = Arrays.copyOf(b, grown);
                }
                int r = input.read(b, done, b.length - done);
                if (r < 0) {
                    throw new EOFException("end of stream after " + done + " of " + n + " bytes");
                }
                done += r;
            }
            return b;
        } finally {
            if (budget != null) {
                budget.release(reserved);
            }
        }
    }
}
