package io.stcp.internal;

import io.stcp.ReadTimeoutException;
import io.stcp.WriteTimeoutException;
import java.io.IOException;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link Transport} whose peer is a test: input is fed in chunks (each arrives as one read, so
 * split frames can be tested), output is kept until the test takes it (and then dropped), and the
 * test can end the input, reset it,
 * make the next read time out, or stall writes until their deadline. The test kit
 * ({@code stcp-test}) is built on it.
 *
 * <p>All state is guarded by {@link #lock}; waits honour their deadlines and interrupts (an
 * interrupted wait closes the transport and throws {@link ClosedByInterruptException}, as a
 * socket channel does).
 */
public final class MemoryTransport implements Transport {
    /** What a simulated timeout says where the connection has no deadline in force to name. */
    static final String SIMULATED_TIMEOUT = "read timed out: simulated by the test kit (timeoutNextRead),"
            + " with no read timeout or deadline in force";
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<byte[]> input = new ArrayDeque<>(); // guarded by lock
    private int headOffset;                                       // guarded by lock
    private boolean inputEnded;                                   // guarded by lock
    private boolean inputReset;                                   // guarded by lock
    private int timeoutsPending;                                  // guarded by lock
    private final ArrayDeque<byte[]> output = new ArrayDeque<>(); // one chunk per write, dropped once taken; guarded by lock
    private int outputOffset;                                     // bytes of output's first chunk taken; guarded by lock
    private long outputPending;                                   // bytes written and not taken; guarded by lock
    private boolean writesStalled;                                // guarded by lock
    private boolean outputShut;                                   // guarded by lock
    private boolean closed;                                       // guarded by lock

    // ---------------------------------------------------------------- the test's side

    /** The peer sends {@code chunk}; it arrives as one read (or several, if the reader asks for less). */
    public void feed(byte[] chunk) {
        locked(() -> {
            if (inputEnded || inputReset) {
                throw new IllegalStateException("the input has ended");
            }
            if (chunk.length > 0) {
                input.addLast(chunk.clone());
            }
        });
    }

    /** The peer shuts its output: after what was fed, reads see end of stream. */
    public void endInput() {
        locked(() -> inputEnded = true);
    }

    /** The peer resets the connection: after what was fed, reads fail with "Connection reset". */
    public void resetInput() {
        locked(() -> inputReset = true);
    }

    /**
     * The next read that would wait fails at once with a {@link ReadTimeoutException}, as if its
     * deadline passed: the connection reports it as the deadline in force would have (the read
     * timeout's message, say). With none in force, no real timeout could come, and the exception
     * says it was simulated.
     */
    public void timeoutNextRead() {
        locked(() -> timeoutsPending++);
    }

    /** While stalled, writes wait — until their deadline, when they fail as against a peer that stopped reading. */
    public void stallWrites(boolean stalled) {
        locked(() -> writesStalled = stalled);
    }

    /**
     * The next {@code n} bytes written, waiting for them at most {@code timeoutNanos}.
     *
     * @return them, or fewer if the time ran out or the transport closed
     * @throws IllegalArgumentException if {@code n} is negative
     */
    public byte[] takeOutput(int n, long timeoutNanos) throws InterruptedException {
        if (n < 0) {
            throw new IllegalArgumentException("n: " + n + " (expected: >= 0)");
        }
        lock.lock();
        try {
            long deadline = System.nanoTime() + timeoutNanos;
            while (outputPending < n && !closed) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                changed.awaitNanos(left);
            }
            return take(n);
        } finally {
            lock.unlock();
        }
    }

    /** Everything written and not taken yet (up to the largest array), without waiting. */
    public byte[] takeOutput() {
        lock.lock();
        try {
            return take(Integer.MAX_VALUE - 8);
        } finally {
            lock.unlock();
        }
    }

    /** Copies out up to {@code n} pending bytes and drops the chunks they emptied; lock held. */
    private byte[] take(int n) {
        byte[] out = new byte[(int) Math.min(n, outputPending)];
        int copied = 0;
        while (copied < out.length) {
            byte[] head = output.getFirst();
            int k = Math.min(out.length - copied, head.length - outputOffset);
            System.arraycopy(head, outputOffset, out, copied, k);
            copied += k;
            outputOffset += k;
            if (outputOffset == head.length) {
                output.removeFirst();
                outputOffset = 0;
            }
        }
        outputPending -= out.length;
        return out;
    }

    /** Whether the connection shut its output down (a graceful close sends FIN after its last reply). */
    public boolean isOutputShut() {
        lock.lock();
        try {
            return outputShut;
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- the connection's side

    @Override
    public int read(byte[] b, int off, int len, long deadlineNanos) throws IOException {
        lock.lock();
        try {
            while (true) {
                if (closed) {
                    throw new ClosedChannelException();
                }
                byte[] head = input.peekFirst();
                if (head != null) {
                    int n = Math.min(len, head.length - headOffset);
                    System.arraycopy(head, headOffset, b, off, n);
                    headOffset += n;
                    if (headOffset == head.length) {
                        input.pollFirst();
                        headOffset = 0;
                    }
                    return n;
                }
                if (inputReset) {
                    throw new SocketException("Connection reset");
                }
                if (inputEnded) {
                    return -1;
                }
                if (timeoutsPending > 0) {
                    timeoutsPending--;
                    throw new ReadTimeoutException(SIMULATED_TIMEOUT);
                }
                await(deadlineNanos, false);
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public boolean isReadable() {
        return true; // read() waits
    }

    @Override
    public void awaitReadable(long deadlineNanos) {
        // read() waits
    }

    @Override
    public boolean inputWaiting() {
        return available() > 0;
    }

    @Override
    public void write(ByteBuffer[] srcs, int off, int len, long deadlineNanos) throws IOException {
        lock.lock();
        try {
            while (true) {
                if (closed || outputShut) {
                    throw new ClosedChannelException();
                }
                if (!writesStalled) {
                    break;
                }
                await(deadlineNanos, true);
            }
            long total = 0;
            for (int i = off; i < off + len; i++) {
                total += srcs[i].remaining();
            }
            if (total > 0) {
                byte[] chunk = new byte[Math.toIntExact(total)];
                int at = 0;
                for (int i = off; i < off + len; i++) {
                    int r = srcs[i].remaining();
                    srcs[i].get(chunk, at, r);
                    at += r;
                }
                output.addLast(chunk);
                outputPending += total;
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Waits for a change until {@code deadline}; lock held. */
    private void await(long deadline, boolean writing) throws IOException {
        try {
            if (deadline == 0) {
                changed.await();
                return;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw writing ? new WriteTimeoutException("write deadline passed")
                        : new ReadTimeoutException("read deadline passed");
            }
            changed.awaitNanos(Math.min(left, TimeUnit.SECONDS.toNanos(1)));
        } catch (InterruptedException e) {
            closed = true;
            changed.signalAll();
            Thread.currentThread().interrupt();
            throw new ClosedByInterruptException();
        }
    }

    @Override
    public void shutdownOutput() throws IOException {
        locked(() -> outputShut = true);
    }

    @Override
    public int available() {
        lock.lock();
        try {
            int n = 0;
            for (byte[] chunk : input) {
                n += chunk.length;
            }
            return n - headOffset;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public boolean isOpen() {
        lock.lock();
        try {
            return !closed;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        locked(() -> closed = true);
    }

    @Override
    public String name() {
        return "memory";
    }

    private void locked(Runnable r) {
        lock.lock();
        try {
            r.run();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
