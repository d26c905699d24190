package io.stcp.internal;

import io.stcp.framing.FrameTooLongException;
import java.io.IOException;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * How an array that fills with a value as its bytes arrive grows, and what it holds of the server's
 * (or the client's) {@link InboundBudget} meanwhile: for {@code readBytes} ({@link GrowingRead}) and for
 * {@code readLine} and {@code DelimiterReader} ({@link DelimitedRead}). One per value, used by its
 * reader thread only.
 *
 * <p><b>Growth.</b> An array is four times the bytes known to have arrived, and at least
 * {@value ConnectionInput#MIN_GROWING} bytes; it is the value's end at once when that leaves less
 * than a buffer to read. The caller says what has arrived and where the value ends (a length
 * announced; a delimiter among the bytes buffered, or the most it takes), and whether the bytes the
 * socket holds belong to the value ({@link Transport#available()}, asked only when the others fall
 * far short). What the array holds beyond the first {@value ConnectionInput#BUFFER_SIZE} bytes is
 * reserved from the budget until {@link #release}; a value that needs more than the whole budget
 * fails with {@link FrameTooLongException}, and no step is longer than the whole budget holds: a
 * guess past it would fail a value that fits. A copy of the array's first bytes made to be the
 * value (a delimited value that ended short of the array) is counted too ({@link #copyOut}).
 * A value read stays charged with its bytes beyond the first buffer's worth while its reader
 * holds it, until the reader's next read, the return of its call, or the connection's end
 * ({@link #readEnded}, {@link ConnectionInput}: "A value in hand").
 *
 * <p><b>Under pressure.</b> Fourfold lets a peer that trickles hold four times what it sent: a
 * few peers sending a quarter of the budget would spend all of it, and every other large frame
 * would wait for its frame timeout. So an array grows fourfold only while the budget stays at
 * most half spent with it; past that it is a quarter larger than what arrived (at least
 * {@value ConnectionInput#MIN_GROWING} bytes more). Peers then hold at most half the budget at
 * fourfold (for an eighth of it sent) and the rest at five fourths of what they send: to spend
 * the whole budget they must send about half of it (an eighth and two fifths), not a quarter.
 * Whether a fourfold array stays within half is decided where it is reserved, under the budget's
 * lock ({@link InboundBudget#reserveWithinHalf}): growths at the same moment see each other, and
 * cannot each take fourfold from a budget that has room for one. Half, because below it large
 * frames keep fourfold growth, which saves copies on the JDK transport (the epoll transport reads
 * most frames whole); a quarter more keeps the copies of a value linear, at most four times its
 * length in all. A connection that waits for room keeps what it reserved, at most until its
 * read deadline or its close ({@link InboundBudget}); so that two values creeping toward their
 * ends cannot spend the budget between them and wait for each other, an array that does not
 * complete its value (reach the end its caller gave) leaves the budget's last fifth free, and a
 * creeping value's last step is at most a fifth of it: one value can always finish and free its
 * part. A delimited value's end is known only once its delimiter is buffered, not while it is in
 * the socket, so two long lines whose rests are still there would each need a step that does not
 * complete them, and wait for each other: once every value holding bytes of the budget waits for
 * more, one value at a time whose step does not complete it may take half the last fifth too, and
 * holds it until it is read; the other half stays for steps that complete their values
 * ({@link InboundBudget}, "The reserve"). A step then is still a guess, which could overshoot
 * that room by the few bytes its line needed, and the two lines waited for each other until their
 * deadlines: so while every value holding bytes waits, a step that does not complete its value is
 * cut to the room there is, down to one byte more than its array holds, and into the last tenth
 * only with bytes its peer has sent (over TLS, those decrypted); if none of them fits even so, the
 * one holding the most fails at once rather than all waiting ({@link InboundBudget}, "No wait for
 * each other").
 */
final class ArrayGrowth {
    private final @Nullable ConnectionInput input; // null: a connection of no server (no budget, no socket)
    private final @Nullable InboundBudget budget;
    private long reserved; // bytes this array holds of the budget
    private long since;    // when it started holding them: written and read under the budget's lock

    /** @param input the connection's input, or null for a connection that is not a server's */
    ArrayGrowth(@Nullable ConnectionInput input) {
        this.input = input;
        this.budget = input == null ? null : input.budget();
    }

    /**
     * The next length of the array, reserved: more than the bytes that have arrived.
     *
     * @param arrived the bytes of the value known to have arrived (those in the array, and those
     *     buffered that belong to it); at least the array's length when it is full
     * @param end the array's length once it holds the whole value (or all its caller takes)
     * @param socketCounts whether the bytes the socket holds belong to the value too (they do when
     *     its length was announced), asked only when the array would fall short of {@code end} by
     *     more than a large read buffer
     */
    int grow(long arrived, int end, boolean socketCounts) throws IOException {
        long given = arrived; // without the socket's bytes, which may grow while a step waits
        long len = Math.max(ConnectionInput.MIN_GROWING, 4 * arrived);
        boolean asked = socketCounts && end - len > ReadBuffers.LARGE;
        if (asked) {
            arrived += input.socketAvailable();
            len = Math.max(len, 4 * arrived);
        }
        int length = withinBudget(upTo(end, len), arrived, end, socketCounts);
        long more = length - ConnectionInput.BUFFER_SIZE - reserved;
        if (budget == null || more <= 0) {
            return length;
        }
        if (budget.reserveWithinHalf(more, this)) {
            reserved += more;
            return length;
        }
        len = quarterMore(arrived);
        if (socketCounts && !asked && end - len > ReadBuffers.LARGE) {
            len = quarterMore(arrived + input.socketAvailable()); // the socket may hold the rest
        }
        length = withinBudget(upTo(end, len), arrived, end, socketCounts);
        if (length == end) {
            reserve(length, true);
            return length;
        }
        // A step that does not complete its value is a guess: one byte more than the array's bytes
        // will do while every value holding bytes waits, and the bytes the peer has sent may go
        // into the budget's last tenth then (InboundBudget, "No wait for each other"): the transport
        // is asked for them only then, each time the step looks, as more may come while it waits;
        // over TLS, for the plain bytes it has decrypted (Transport.availableToRead).
        int step = length;
        LongSupplier there = () -> Math.min(step, given + input.availableToRead());
        return reserve(length, (int) Math.min(length, given + 1), there);
    }

    /**
     * Fails a value of {@code length} bytes, its length announced, that the whole budget could never
     * hold: called before anything waits for its bytes. The epoll transport lets a large value's
     * rest wait in the kernel ({@link Transport#awaitInput}) before its array is made, and a value
     * announced beyond the budget waited there until its frame timeout (or until the peer had sent
     * as much as the wait asks for), where it was to fail at once.
     *
     * @throws FrameTooLongException if the value needs more than the whole budget
     */
    void requireFits(long length) throws FrameTooLongException {
        if (length > mostBytes()) {
            throw tooLong(length);
        }
    }

    private FrameTooLongException tooLong(long length) {
        return new FrameTooLongException("a value of at least " + length + " bytes needs more than "
                + budget.describe() + " (" + budget.setting() + ")");
    }

    /**
     * {@code length}, or the longest array the whole budget holds ({@link #mostBytes}) when that
     * is shorter: a step is a guess, and one past the budget failed a value that fits it (a line of
     * 900 KiB in a budget of 1 MiB, whose array grew from 850 KiB to a quarter more). The array
     * must still hold more than what arrived, unless that is the whole value; a value whose length
     * was announced ({@code endKnown}) must fit whole, or it fails before a step is taken for it.
     *
     * @throws FrameTooLongException if the value needs more than the whole budget
     */
    private int withinBudget(int length, long arrived, int end, boolean endKnown) throws FrameTooLongException {
        long most = mostBytes();
        if (length <= most && (!endKnown || end <= most)) {
            return length;
        }
        // a value that did not end with what arrived has a byte more
        long needed = endKnown ? end : Math.min(end, arrived + 1);
        if (needed > most) {
            throw tooLong(needed);
        }
        return (int) most;
    }

    /**
     * The longest array whose bytes beyond the first buffer's worth the whole budget holds; no
     * limit without one, nor with one that holds the longest array (any budget is allowed, up to
     * Long.MAX_VALUE: the sum must not overflow).
     */
    private long mostBytes() {
        if (budget == null || budget.limitBytes() >= Integer.MAX_VALUE - ConnectionInput.BUFFER_SIZE) {
            return Integer.MAX_VALUE;
        }
        return budget.limitBytes() + ConnectionInput.BUFFER_SIZE;
    }

    /** {@code len}, or {@code end} when less than a buffer would be left beyond it. */
    private static int upTo(int end, long len) {
        return end - len <= ConnectionInput.BUFFER_SIZE ? end : (int) len;
    }

    /** A quarter more than {@code arrived}, and at least {@value ConnectionInput#MIN_GROWING} bytes more. */
    private static long quarterMore(long arrived) {
        return arrived + Math.max(ConnectionInput.MIN_GROWING, arrived / 4);
    }

    /**
     * Reserves what an array of {@code length} bytes holds beyond the first buffer's worth, less
     * what it holds already, waiting for room as {@link InboundBudget#reserve} does. An array that
     * does not {@code complete} its value leaves the budget's last fifth to arrays that do, unless
     * it is the one value that may take it: see the class comment.
     */
    void reserve(int length, boolean completes) throws IOException {
        long more = length - ConnectionInput.BUFFER_SIZE - reserved;
        reserve(length, more, () -> 0, completes);
    }

    /**
     * As {@link #reserve(int, boolean)}, for a step that does not complete its value, which the
     * budget may cut, to at least {@code least} bytes, once every value holding bytes waits for
     * more ({@link InboundBudget}, "No wait for each other").
     *
     * @param there the array's length that the bytes arrived (buffered, or in the transport, as
     *     its reads will return them) fill: asked only while every value holding bytes waits, each
     *     time it looks (on a socket, a system call)
     * @return the array's length reserved, {@code least} to {@code length}
     * @throws FrameTooLongException if the budget cannot hold the value beside the others, all waiting
     */
    private int reserve(int length, int least, LongSupplier there) throws IOException {
        long part = reserved + ConnectionInput.BUFFER_SIZE; // of the array's length: reserved, or needing none
        return reserve(length, Math.max(1, least - part), () -> Math.max(0, there.getAsLong() - part), false);
    }

    /** Reserves for an array of {@code length}: at least {@code leastMore} bytes more, of which {@code arrivedMore} have arrived. */
    private int reserve(int length, long leastMore, LongSupplier arrivedMore, boolean completes) throws IOException {
        long more = length - ConnectionInput.BUFFER_SIZE - reserved;
        if (budget == null || more <= 0) {
            return length;
        }
        if (reserved + more > budget.limitBytes()) {
            throw tooLong(length);
        }
        long granted = budget.reserve(more, Math.min(more, leastMore), arrivedMore, completes, this,
                input.waitDeadline(System.nanoTime()), input::isOpen);
        if (granted < 0) {
            // Inside a frame the peer is sending, whichever deadline it was: the frame is not completed.
            throw input.frameTimedOut("frame not completed: " + budget.describe()
                    + " stayed spent until the read deadline");
        }
        reserved += granted;
        return (int) (reserved + ConnectionInput.BUFFER_SIZE);
    }

    /**
     * Counts a copy of the array's first {@code length} bytes, about to be made to be the value
     * (shorter than the array, a guess that the value's end fell short of), as an array of its
     * own: in one step, on top of the array's part when the budget holds both, else in its place
     * ({@link InboundBudget#copyOut}). Never waits, so never on another value's copy.
     */
    void copyOut(int length) {
        long copy = length - ConnectionInput.BUFFER_SIZE;
        if (budget != null && copy > 0) {
            reserved = budget.copyOut(reserved, copy);
        }
    }

    /**
     * Whether its reader owes the drain of replies it queued ({@link InboundBudget}, "Owed
     * drains"). Its reader thread only.
     */
    boolean owesDrain() {
        return input != null && input.owesDrain();
    }

    /** Its reader pays the drain it owes before the budget waits for room: a blocking write. Its reader thread only. */
    void payOwedDrain() {
        input.payOwedDrainInRead();
    }

    /** The bytes the array holds of the budget. Its reader thread only. */
    long heldBytes() {
        return reserved;
    }

    /**
     * The budget's count of values that had started holding bytes when this one did: of two
     * values that hold as much, the later to start fails ({@link InboundBudget}, "No wait for each
     * other"). Under the budget's lock.
     */
    long since() {
        return since;
    }

    /** The budget granted the array its first bytes, the {@code since}th value to start holding. Under the budget's lock. */
    void startedHolding(long since) {
        this.since = since;
    }

    /**
     * The value's read is over: {@code read}, {@code length} bytes long, or failed. A value that
     * failed gives back what its array holds of the budget at once. A value read is handed to its
     * reader, which holds it charged with its bytes beyond a read buffer's worth until it gives it
     * up ({@link ConnectionInput#giveUp}); the rest (the array a shorter copy was made of, garbage
     * now) is given back at once. A value that holds nothing of the budget costs nothing here.
     */
    void readEnded(boolean read, long length) {
        long kept = read ? Math.min(reserved, length - ConnectionInput.BUFFER_SIZE) : 0;
        if (kept <= 0) {
            release();
            return;
        }
        if (kept < reserved) {
            budget.keep(reserved, kept);
            reserved = kept;
        }
        input.hold(this);
    }

    /** Gives back what the array holds of the budget: its value failed, or its reader gave it up. */
    void release() {
        if (budget != null) {
            budget.release(reserved, this);
        }
        reserved = 0;
    }
}
