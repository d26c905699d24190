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
 * frame costs few reads and copies and at most four times the bytes received. What the array
 * holds beyond the first {@value ConnectionInput#BUFFER_SIZE} bytes — even the bytes that had
 * arrived when it was made — is reserved from the server's {@link InboundBudget} until the array
 * is returned; a value that needs more than the whole budget fails with
 * {@link FrameTooLongException}.
 */
final class GrowingRead {

    private GrowingRead() {}

    /**
     * Reads {@code n} bytes, more than {@code input} has buffered (at least one byte is).
     *
     * @param budget the server's inbound budget, or null
     */
    static byte[] read(ConnectionInput input, int n, InboundBudget budget) throws IOException {
        byte[] b = new byte[Math.max(ConnectionInput.MIN_GROWING, input.buffered())]; // less than n
        long reserved = 0;
        try {
            reserved = reserve(input, budget, n, b.length, reserved); // what arrived may exceed a buffer
            int done = 0;
            while (done < n) {
                if (done == b.length) {
                    int grown = (int) (n - 4L * b.length <= ConnectionInput.BUFFER_SIZE ? n : 4L * b.length);
                    reserved = reserve(input, budget, n, grown, reserved);
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

    /**
     * Reserves from the budget what an array of {@code length} bytes holds beyond the first
     * buffer's worth, less what is {@code reserved} already.
     *
     * @return the bytes reserved now in all
     */
    private static long reserve(ConnectionInput input, InboundBudget budget, int n, int length, long reserved)
            throws IOException {
        long more = length - ConnectionInput.BUFFER_SIZE - reserved;
        if (budget == null || more <= 0) {
            return reserved;
        }
        if (reserved + more > budget.limitBytes()) {
            throw new FrameTooLongException("frame of " + n + " bytes needs more than the server's"
                    + " inbound budget of " + budget.limitBytes() + " bytes (ServerConfig.inboundBudget)");
        }
        budget.reserve(more, input.waitDeadline(System.nanoTime()));
        return reserved + more;
    }
}
