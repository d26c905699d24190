package io.stcp.internal;

import io.stcp.framing.FrameTooLongException;
import java.io.EOFException;
import java.io.IOException;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * A value longer than what is buffered, read into an array that grows as its bytes arrive, so
 * that memory follows the bytes a peer sends, not the length it announces. The array is four
 * times the bytes known to have arrived — those read, those buffered, and those the socket holds
 * ({@link Transport#available()}, asked only when the others fall far short) — and at least
 * {@value ConnectionInput#MIN_GROWING} bytes; it is the whole value at once when that leaves less
 * than a buffer to read. So a frame whose bytes are all in the socket is read into one array
 * with no copy of a smaller one, and a frame that trickles in grows fourfold at a time (by a
 * quarter under pressure, below). What the
 * array holds beyond the first {@value ConnectionInput#BUFFER_SIZE} bytes is reserved from the
 * server's {@link InboundBudget} until the array is returned; a value that needs more than the
 * whole budget fails with {@link FrameTooLongException}.
 *
 * <p><b>Under pressure.</b> Fourfold lets a peer that trickles hold four times what it sent: a
 * few peers sending a quarter of the budget would spend all of it, and every other large frame
 * would wait for its frame timeout. So an array grows fourfold only while the budget stays at
 * most half spent with it; past that it is a quarter larger than what arrived (at least
 * {@value ConnectionInput#MIN_GROWING} bytes more). Peers then hold at most half the budget at
 * fourfold (for an eighth of it sent) and the rest at five fourths of what they send: to spend
 * the whole budget they must send about half of it (an eighth and two fifths), not a quarter.
 * (Growths decided at the same moment may each see the budget below half: the used bytes are
 * read without the budget's lock, which only a reservation takes.) Half, because below it large
 * frames keep fourfold growth, which saves copies on the JDK transport (the epoll transport reads
 * most frames whole); a quarter more keeps the copies of a value linear, at most four times its
 * length in all. A connection that waits for room keeps what it reserved, at most until its
 * read deadline or its close ({@link InboundBudget}); so that two values creeping toward their
 * ends cannot spend the budget between them and wait for each other, an array that does not
 * complete its value leaves the budget's last fifth free, and a creeping value's last step is at
 * most a fifth of it: one value can always finish and free its part.
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
     *
     * @param budget the server's inbound budget, or null
     */
    static byte[] read(ConnectionInput input, byte[] prefix, int n, InboundBudget budget) throws IOException {
        int p = prefix.length;
        awaitRest(input, n - input.buffered());
        int first = length(input, budget, p, n, input.buffered(), 0);
        long reserved = 0;
        try {
            reserved = reserve(input, budget, n, first, reserved, first == p + n); // what arrived may exceed a buffer; reserved before it is allocated
            byte[] b = Arrays.copyOf(prefix, first);
            int done = 0;
            while (done < n) {
                if (input.buffered() == 0) {
                    awaitRest(input, n - done);
                }
                if (p + done == b.length) {
                    int grown = length(input, budget, p, n, (long) done + input.buffered(), reserved);
                    reserved = reserve(input, budget, n, grown, reserved, grown == p + n);
                    b = Arrays.copyOf(b, grown);
                }
                int r = input.read(b, p + done, b.length - p - done);
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
     * Lets a large rest wait in the kernel, not in an array that lives on through collections. A
     * wait may end before the rest is all there (the receive window was full: a socket's first
     * large value, before the low-water mark made room for it); reading what came makes room.
     */
    private static void awaitRest(ConnectionInput input, int rest) throws IOException {
        if (rest > ReadBuffers.LARGE) {
            input.awaitInput(rest);
        }
    }

    /**
     * The next length of the array for {@code p} prefix bytes and a value of {@code n} bytes when
     * {@code arrived} of them have been read or buffered, {@code reserved} bytes being reserved for
     * it already. Four times what is known to have arrived, asking the socket too (a system call)
     * only when fourfold {@code arrived} falls short by more than a large read buffer (less would
     * save a copy smaller than the call); but a quarter more (at least
     * {@value ConnectionInput#MIN_GROWING} bytes) when the fourfold array would leave the budget
     * more than half spent ({@link InboundBudget#leavesHalf}), asking the socket then when a quarter
     * more falls short by more than a large read buffer. The whole value once less than a buffer
     * would be left to read.
     */
    private static int length(ConnectionInput input, @Nullable InboundBudget budget, int p, int n, long arrived,
            long reserved) {
        long len = Math.max(ConnectionInput.MIN_GROWING, 4 * arrived);
        boolean asked = n - len > ReadBuffers.LARGE;
        if (asked) {
            arrived += input.socketAvailable();
            len = Math.max(len, 4 * arrived);
        }
        if (budget != null && !budget.leavesHalf(p + Math.min(len, n) - ConnectionInput.BUFFER_SIZE - reserved)) {
            len = quarterMore(arrived);
            if (!asked && n - len > ReadBuffers.LARGE) {
                len = quarterMore(arrived + input.socketAvailable()); // the socket may hold the rest
            }
        }
        return p + (n - len <= ConnectionInput.BUFFER_SIZE ? n : (int) len);
    }

    /** A quarter more than {@code arrived}, and at least {@value ConnectionInput#MIN_GROWING} bytes more. */
    private static long quarterMore(long arrived) {
        return arrived + Math.max(ConnectionInput.MIN_GROWING, arrived / 4);
    }

    /**
     * Reserves from the budget what an array of {@code length} bytes holds beyond the first
     * buffer's worth, less what is {@code reserved} already. An array that does not
     * {@code complete} its value leaves the budget's last fifth (or what it could not fit in
     * otherwise) to arrays that do: see the class comment.
     *
     * @return the bytes reserved now in all
     */
    static long reserve(ConnectionInput input, @Nullable InboundBudget budget, int n, int length, long reserved,
            boolean completes) throws IOException {
        long more = length - ConnectionInput.BUFFER_SIZE - reserved;
        if (budget == null || more <= 0) {
            return reserved;
        }
        if (reserved + more > budget.limitBytes()) {
            throw new FrameTooLongException("frame of " + n + " bytes needs more than the server's"
                    + " inbound budget of " + budget.limitBytes() + " bytes (ServerConfig.inboundBudget)");
        }
        long keep = completes ? 0 : Math.min(budget.limitBytes() / 5, budget.limitBytes() - reserved - more);
        if (!budget.reserve(more, keep, input.waitDeadline(System.nanoTime()), input::isOpen)) {
            // Inside a frame the peer is sending, whichever deadline it was: the frame is not completed.
            throw input.frameTimedOut("frame not completed: the server's inbound budget of " + budget.limitBytes()
                    + " bytes stayed spent until the read deadline");
        }
        return reserved + more;
    }
}
