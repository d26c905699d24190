package io.stcp.internal;

import io.stcp.ReadTimeoutException;
import io.stcp.WriteTimeoutException;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;

/**
 * A non-blocking socket watched by a native {@link ReadinessSource}: a read or write that finds
 * nothing to do waits on the socket's {@link Readiness} up to its deadline, and checks that
 * deadline itself on every turn of its loop. After a read that returned less than it asked for,
 * the socket is known to be empty, so the next read waits for an edge first instead of making a
 * syscall that would fail with EAGAIN.
 *
 * <p><b>System calls.</b> When the source offers {@link SocketCalls}, reads, and writes of a single
 * heap buffer, go straight between the array and the descriptor, and a write of the caller's own
 * direct buffers ({@link #writeOwned}) is one gathering call of the source's; otherwise through
 * the JDK channel. The descriptor is the channel's own ({@link ReadinessSource#register}): one per
 * connection, as Netty's epoll transport holds; for a channel the application holds too
 * ({@code Connection.of}), a duplicate that only this transport closes
 * ({@link ReadinessSource#registerShared}, {@link Readiness#closeDescriptor()}). A call on the
 * bare descriptor must never meet a closed one (its number may already belong to another socket,
 * another client's), so the channel is closed here alone, by {@link #close()} or by the last such
 * call under way. The state, one atomic word:
 * <pre>
 *   READING, WRITING   a call on the descriptor is under way (the reader's, the writer's)
 *   CLOSED             close() was called: no call starts, isOpen() is false
 *
 *   close():        sets CLOSED; closes the channel (and a duplicate) if no call is under way
 *   a call's start: sets its bit unless CLOSED (then ClosedChannelException)
 *   a call's end:   clears its bit; closes them if that leaves just CLOSED
 * </pre>
 * So the channel closes exactly once, at once or as soon as the (non-blocking) call in progress
 * returns, and its registration is forgotten ({@link Readiness#close()}) before its number is
 * free. Calls through the channel need none of this: the JDK's channel defers its own close until
 * its calls under way have returned.
 *
 * <p>Nothing else closes the channel: the application's {@code Connection.channel()}, its socket
 * and their streams close the connection instead, and an interrupt does not close a non-blocking
 * JDK channel (the JDK closes a channel on an interrupt only in a call that may block). A channel
 * closed all the same, by its descriptor's number (a native {@code close}), is outside the
 * contract, as on Netty: the next call that finds it closed at its start closes the transport, but
 * a call already past that check may name whatever socket has the number by then.
 *
 * <p><b>Waiting for a large value.</b> {@link #awaitInput} raises the socket's receive low-water
 * mark for one wait, so that the kernel holds a large value's bytes until they are all there
 * instead of waking the reader for each piece; the mark is back at one byte before it returns,
 * so every other wait is for any byte.
 *
 * <p>A thread interrupted while waiting here closes the transport and gets a
 * {@link ClosedByInterruptException}, as a blocking channel would do. A wait that ends because the
 * source's poller failed ({@link Readiness#fail}) throws a {@link PollerFailedException}.
 */
final class ReadinessTransport implements Transport {
    private static final VarHandle STATE = Fields.handle(MethodHandles.lookup(), "state", int.class);
    private static final int READING = 1;
    private static final int WRITING = 2;
    private static final int CLOSED = 4;
    /**
     * The most bytes one of the source's calls moves. Such a call holds off the JVM's safepoints
     * (and so its collections) while it copies: at most this many bytes, a few hundred
     * microseconds. Not less: 256 KiB reads made a 1 MiB frame cost a third more (more window
     * updates, more wake-ups of the sender).
     */
    static final int MAX_BYTES_PER_CALL = 1024 * 1024;

    private final SocketChannel channel;
    private final Readiness readiness;
    private final String name;
    private final SocketCalls calls; // null: through the channel
    private final int fd;
    private volatile int state;
    private boolean drained; // the last read emptied the socket; reader thread only
    private volatile boolean awaitsNoInput; // a graceful close wants what came read: awaitInput waits no more (stopAwaitingInput)
    private WriteWaits writeWaits = WriteWaits.NONE; // set before the connection is shared (onWriteWait)

    /**
     * @param calls the source's system calls, or null to go through the channel
     * @param fd the channel's descriptor, when {@code calls} is given
     */
    ReadinessTransport(SocketChannel channel, Readiness readiness, String name, SocketCalls calls, int fd) {
        this.channel = channel;
        this.readiness = readiness;
        this.name = name;
        this.calls = calls;
        this.fd = fd;
    }

    @Override
    public int read(byte[] b, int off, int len, long deadlineNanos) throws IOException {
        while (true) {
            int n = readNow(b, off, len);
            if (n != 0) {
                return n;
            }
            awaitReadable(deadlineNanos);
        }
    }

    /** One read call unless the socket is known to be empty (a short read and no edge since). */
    @Override
    public int readNow(byte[] b, int off, int len) throws IOException {
        if (!isReadable()) {
            return 0;
        }
        readiness.clearReadable();
        int ask = calls != null ? Math.min(len, MAX_BYTES_PER_CALL) : len;
        int n = calls != null ? readCall(b, off, ask) : channelRead(ByteBuffer.wrap(b, off, len));
        drained = n == 0 || n < ask;
        return n;
    }

    @Override
    public boolean readsDirect() {
        return true;
    }

    @Override
    public long read(ByteBuffer[] dsts, int off, int len, long deadlineNanos) throws IOException {
        while (true) {
            long n = readNow(dsts, off, len);
            if (n != 0) {
                return n;
            }
            awaitReadable(deadlineNanos);
        }
    }

    /**
     * As {@link #readNow(byte[], int, int)}, through the channel: one {@code readv} into the direct
     * buffers where they are.
     */
    @Override
    public long readNow(ByteBuffer[] dsts, int off, int len) throws IOException {
        if (!isReadable()) {
            return 0;
        }
        readiness.clearReadable();
        int count = Math.min(len, MAX_BUFFERS_PER_CALL); // a short read means drained only if it was offered all it could take
        long ask = Transport.remaining(dsts, off, count);
        long n;
        try {
            n = channel.read(dsts, off, count);
        } catch (ClosedChannelException e) {
            throw closedBehindItsBack(e);
        }
        drained = n == 0 || n < ask;
        return n;
    }

    /**
     * With the socket's receive low-water mark raised to {@code bytes} for the wait, so that the
     * kernel signals readiness once they are all there (or the window is full, or the stream
     * ended), then set back to one byte. At most {@link #MAX_BYTES_PER_CALL}: the kernel grows the
     * socket's receive buffer to hold the mark (within {@code tcp_rmem}), so a waiting connection
     * costs it about twice that at most, and the read that follows takes it in one call.
     */
    @Override
    public void awaitInput(int bytes, long deadlineNanos) throws IOException {
        int want = Math.min(bytes, MAX_BYTES_PER_CALL);
        if (calls == null || want <= 1) {
            return;
        }
        readiness.clearReadable(); // from here on, an edge means the socket changed
        drained = false;           // whatever happens, the next read tries the socket first
        if (awaitsNoInput || available() >= want) {
            return; // the flag is read after the clear: a stopAwaitingInput() later than that finds this wait (see there)
        }
        lowWater(want); // signals readiness at once if the bytes came in the meantime
        try {
            awaitReadable(deadlineNanos);
        } finally {
            try {
                lowWater(1);
            } catch (ClosedChannelException e) {
                // closed meanwhile: the mark no longer matters, and the wait's own outcome says why
            }
        }
    }

    /**
     * Ends the wait of {@link #awaitInput} and every later one: sets {@link #awaitsNoInput}, then
     * wakes the reader as an edge does ({@link Readiness#wakeReader()}). A reader about to wait
     * clears the readable flag and then reads {@link #awaitsNoInput} (both volatile): so either it
     * sees the flag and does not wait, or the wake-up comes after its clear and ends its wait.
     */
    @Override
    public void stopAwaitingInput() {
        awaitsNoInput = true;
        readiness.wakeReader();
    }

    /**
     * Asks the source to report the socket again and waits for the report, as
     * {@link Readiness#reportAgain} says: the reader goes on in turn with the sockets found ready
     * meanwhile.
     */
    @Override
    public void giveWay(long deadlineNanos) throws IOException {
        boolean reported;
        enter(READING); // the report names the descriptor: it must not be closed meanwhile
        try {
            reported = readiness.reportAgain();
        } finally {
            exit(READING);
        }
        if (reported) {
            drained = false; // the next read tries the socket first
            awaitReadable(deadlineNanos);
        }
    }

    private void lowWater(int bytes) throws IOException {
        enter(READING);
        try {
            calls.receiveLowWater(fd, bytes);
        } finally {
            exit(READING);
        }
    }

    private int readCall(byte[] b, int off, int len) throws IOException {
        enter(READING);
        try {
            return calls.read(fd, b, off, len);
        } finally {
            exit(READING);
        }
    }

    @Override
    public boolean tellsReadiness() {
        return true;
    }

    @Override
    public boolean isReadable() {
        return !drained || readiness.isReadable();
    }

    /**
     * The socket's count, asked only while it may be readable: after a short read, only once an
     * edge has come since (which may be stale: the read before it may have taken its bytes).
     */
    @Override
    public boolean inputWaiting() {
        return isReadable() && available() > 0;
    }

    @Override
    public boolean onReadable(Runnable action) {
        return drained && readiness.onReadable(action);
    }

    @Override
    public void awaitReadable(long deadlineNanos) throws IOException {
        boolean ready = readiness.awaitReadable(deadlineNanos);
        closeIfInterrupted();
        throwIfPollerFailed();
        if (!ready) {
            throw new ReadTimeoutException("read deadline passed");
        }
    }

    @Override
    public void write(ByteBuffer[] srcs, int off, int len, long deadlineNanos) throws IOException {
        write(srcs, off, len, deadlineNanos, false);
    }

    @Override
    public void writeOwned(ByteBuffer[] srcs, int off, int len, long deadlineNanos) throws IOException {
        write(srcs, off, len, deadlineNanos, true);
    }

    /** @param owned the buffers are the caller's own ({@link Transport#writeOwned}) */
    private void write(ByteBuffer[] srcs, int off, int len, long deadlineNanos, boolean owned) throws IOException {
        int end = off + len;
        while (true) {
            readiness.clearWritable();
            long n = calls != null ? writeCall(srcs, off, end, owned) : -1;
            if (n < 0) {
                try {
                    n = Transport.writeSome(channel, srcs, off, end);
                } catch (ClosedChannelException e) {
                    throw closedBehindItsBack(e);
                }
            }
            if ((off = Transport.firstRemaining(srcs, off, end)) == end) {
                return;
            }
            if (n > 0) {
                // A write may stop short of a full socket (IOV_MAX buffers, the JDK's temporary
                // buffer cap, the source's vector and byte caps): only one that took nothing means
                // "wait for room" — and only then will an edge come.
                continue;
            }
            boolean ready = !Nanos.passed(deadlineNanos, System.nanoTime()) && awaitRoom(srcs, off, end, deadlineNanos);
            closeIfInterrupted();
            throwIfPollerFailed();
            if (!ready) {
                throw new WriteTimeoutException("write blocked past its deadline"); // the connection closes
            }
        }
    }

    /**
     * Waits for room for {@code srcs[off .. end)}, telling {@link #writeWaits} first: a reader
     * writing its replies gives its read buffers back before it blocks ({@link WriteWaits}).
     */
    private boolean awaitRoom(ByteBuffer[] srcs, int off, int end, long deadlineNanos) {
        writeWaits.beforeWait(srcs, off, end);
        return readiness.awaitWritable(deadlineNanos);
    }

    /** The socket's readiness; for tests. */
    Readiness readiness() {
        return readiness;
    }

    @Override
    public void onWriteWait(WriteWaits waits) {
        writeWaits = waits;
    }

    /**
     * Writes the buffers of {@code srcs[off .. end)} with bytes left, if they are heap buffers that
     * continue one another in one array (one buffer, or replies lent from a read buffer), with one
     * plain call; or several owned direct buffers with one gathering call (at most
     * {@link #MAX_BYTES_PER_CALL} bytes either way): the bytes written, or -1 otherwise (a
     * gathering write of heap buffers needs the JDK's copy into one direct buffer, a write per
     * buffer would cost a system call each, and the JDK's channel holds the memory of a buffer
     * that is not the caller's own).
     */
    private long writeCall(ByteBuffer[] srcs, int off, int end, boolean owned) throws IOException {
        int first = Transport.firstRemaining(srcs, off, end);
        if (first == end) {
            return -1;
        }
        ByteBuffer src = srcs[first];
        long run = contiguousBytes(srcs, first, end);
        if (run < 0) {
            return owned ? writeDirectCall(srcs, first, end) : -1;
        }
        int n = writeCall(src.array(), src.arrayOffset() + src.position(), (int) Math.min(run, MAX_BYTES_PER_CALL));
        Transport.consume(srcs, first, n);
        return n;
    }

    /**
     * The bytes left in {@code srcs[first .. end)} if they are heap buffers over one array, each
     * starting where the one before ends (empty ones skipped), at most {@link Integer#MAX_VALUE};
     * else -1.
     */
    private static long contiguousBytes(ByteBuffer[] srcs, int first, int end) {
        ByteBuffer b = srcs[first];
        if (!b.hasArray()) {
            return -1;
        }
        byte[] array = b.array();
        long bytes = b.remaining();
        int next = b.arrayOffset() + b.limit();
        for (int i = first + 1; i < end; i++) {
            b = srcs[i];
            if (!b.hasRemaining()) {
                continue;
            }
            if (!b.hasArray() || b.array() != array || b.arrayOffset() + b.position() != next) {
                return -1;
            }
            bytes += b.remaining();
            next = b.arrayOffset() + b.limit();
        }
        return Math.min(bytes, Integer.MAX_VALUE);
    }

    /** The source's gathering write of the direct buffers {@code srcs[off .. end)}, or -1 when it cannot take them. */
    private long writeDirectCall(ByteBuffer[] srcs, int off, int end) throws IOException {
        enter(WRITING);
        try {
            return calls.writeDirect(fd, srcs, off, end, MAX_BYTES_PER_CALL);
        } finally {
            exit(WRITING);
        }
    }

    /** The source's write of {@code b[off .. off+len)}, at most {@link #MAX_BYTES_PER_CALL} of it. */
    private int writeCall(byte[] b, int off, int len) throws IOException {
        enter(WRITING);
        try {
            return calls.write(fd, b, off, Math.min(len, MAX_BYTES_PER_CALL));
        } finally {
            exit(WRITING);
        }
    }

    @Override
    public int writeNow(byte[] b, int off, int len) throws IOException {
        if (calls == null) {
            return -1;
        }
        if (len == 0) {
            return 0;
        }
        readiness.clearWritable();
        return writeCall(b, off, len);
    }

    /**
     * Starts a call on the descriptor, unless the transport is closed — or its channel is: one
     * closed behind the connection's back (by its number: outside the contract) bypassed
     * {@link #close()}, and its number may name another socket already. Such a transport closes
     * itself, which wakes its waiters and resumes a suspended reader.
     */
    private void enter(int call) throws ClosedChannelException {
        int s;
        do {
            s = state;
            if ((s & CLOSED) != 0) {
                throw new ClosedChannelException();
            }
        } while (!STATE.weakCompareAndSet(this, s, s | call));
        if (!channel.isOpen()) {
            exit(call);
            close();
            throw new ClosedChannelException();
        }
    }

    /** A read through the channel. */
    private int channelRead(ByteBuffer dst) throws IOException {
        try {
            return channel.read(dst);
        } catch (ClosedChannelException e) {
            throw closedBehindItsBack(e);
        }
    }

    /**
     * A call through the channel was refused: if the channel is closed (not merely its output shut
     * down), and not by {@link #close()}, then behind the connection's back — closes the
     * transport, as {@link #enter} does, which wakes its waiters.
     */
    private ClosedChannelException closedBehindItsBack(ClosedChannelException e) {
        if (!channel.isOpen()) {
            close();
        }
        return e;
    }

    /** Ends a call on the descriptor; the last one to end after a close closes the channel. */
    private void exit(int call) {
        if ((int) STATE.getAndAdd(this, -call) - call == CLOSED) {
            closeChannel();
        }
    }

    /** What a blocking channel does when its thread is interrupted: close, and say so. */
    private void closeIfInterrupted() throws ClosedByInterruptException {
        if (Thread.currentThread().isInterrupted()) {
            close();
            throw new ClosedByInterruptException();
        }
    }

    /**
     * A wait that ended because the source gave up on the socket ({@link Readiness#fail}): no edge
     * may come any more, so it says why rather than wait or spin. The transport stays open for the
     * connection to close with that reason (closed here, a writer's call could fail first, with
     * a closed channel, and take the close for the application's).
     */
    private void throwIfPollerFailed() throws PollerFailedException {
        Throwable cause = readiness.failure();
        if (cause != null) {
            throw new PollerFailedException(name, cause);
        }
    }

    @Override
    public void shutdownOutput() throws IOException {
        if (!isOpen()) {
            throw new ClosedChannelException(); // the channel itself may still be open, for a call under way
        }
        channel.shutdownOutput();
    }

    @Override
    public int available() {
        if (!isOpen()) {
            return 0;
        }
        try {
            return channel.socket().getInputStream().available();
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    @Override
    public boolean isOpen() {
        return (state & CLOSED) == 0 && channel.isOpen();
    }

    @Override
    public void close() {
        if ((int) STATE.getAndBitwiseOr(this, CLOSED) == 0) {
            closeChannel(); // else closed already, or the call under way closes it when it ends
        }
        readiness.close();
    }

    /**
     * Forgets the registration, then closes the channel, whose number the kernel may give to the
     * next socket from then on: an event still on its way for this socket names the registration's
     * token, which no later registration of the number has; then the source's duplicate, if it
     * made one. Once; never throws.
     */
    private void closeChannel() {
        try { // called, not passed as a method reference: on a full heap its allocation would skip the close
            readiness.close(); // idempotent: close() calls it again, a poller's fail may have come first
        } catch (Throwable t) {
            Quietly.failed("socket", t); // deregistered all the same (Readiness.close's finally)
        }
        Quietly.close(channel, "socket"); // never throws: close() goes on, a call's end returns
        try {
            readiness.closeDescriptor();
        } catch (Throwable t) {
            Quietly.failed("socket", t);
        }
    }

    @Override
    public String name() {
        return name;
    }
}
