package io.stcp.epoll;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.stcp.internal.Readiness;
import io.stcp.internal.SocketCalls;
import io.stcp.internal.Transport;
import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.util.Objects;

/**
 * {@code recv} and {@code send} on a socket's descriptor, straight from and into Java arrays, and
 * {@code setsockopt} for the receive low-water mark: bound as critical calls with heap access (JDK
 * 22+), which pass an array's address without a copy and without a thread-state transition. That
 * is safe because the sockets are non-blocking, so a call never waits. {@code errno} is captured
 * into a native word lent for the call ({@link CaptureSlots}), or into a heap array, which critical
 * calls allow too, when none is free. {@code writev} of direct buffers the caller owns is a
 * critical call too, its vector of buffers in the same slot (without a free slot the caller uses
 * the JDK's channel).
 *
 * <p>{@link #check()} makes one call, on descriptor -1, to find out whether this JVM allows all of
 * that; stcp uses the JDK channel's calls when it does not.
 */
final class SocketSyscalls implements SocketCalls {
    static final SocketSyscalls INSTANCE = new SocketSyscalls();

    private static final int MSG_NOSIGNAL = 0x4000;
    private static final int EINTR = 4;
    private static final int EBADF = 9;
    private static final int EAGAIN = 11;
    private static final int EPIPE = 32;
    private static final int ENETDOWN = 100;
    private static final int ENETUNREACH = 101;
    private static final int ECONNABORTED = 103;
    private static final int ECONNRESET = 104;
    private static final int ETIMEDOUT = 110;
    private static final int EHOSTDOWN = 112;
    private static final int EHOSTUNREACH = 113;

    private static final FunctionDescriptor IO = FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
    private static final MethodHandle RECV = bind("recv");
    private static final MethodHandle SEND = bind("send");
    /** No heap access: the vector, in native memory, is its only pointer argument. */
    private static final MethodHandle WRITEV = Epoll.bind("writev", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT),
            Linker.Option.critical(false), Linker.Option.captureCallState("errno"));

    private static final int SOL_SOCKET = 1;
    private static final int SO_RCVLOWAT = 18;
    private static final MethodHandle SETSOCKOPT = Epoll.bind("setsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT),
            Linker.Option.critical(true), Linker.Option.captureCallState("errno"));

    private SocketSyscalls() {}

    private static MethodHandle bind(String name) {
        return Epoll.bind(name, IO, Linker.Option.critical(true), Linker.Option.captureCallState("errno"));
    }

    /** Why these calls cannot be made in this JVM, or null if they can. */
    static String check() {
        try {
            int[] errno = new int[1];
            long n = (long) RECV.invokeExact(MemorySegment.ofArray(errno), -1, MemorySegment.ofArray(new byte[1]), 1L, 0);
            return n == -1 && errno[0] == EBADF ? null : "recv(-1) answered " + n + ", errno " + errno[0];
        } catch (Throwable t) {
            return "critical calls with heap access fail: " + t;
        }
    }

    /**
     * The registration's descriptor, its channel's (or a duplicate of it, for a channel the
     * application holds too): the low 32 bits of its token ({@link Registrations}).
     */
    @Override
    public int fd(Readiness readiness) {
        return (int) readiness.token();
    }

    @Override
    public int read(int fd, byte[] b, int off, int len) throws IOException {
        long n = call(false, fd, b, off, len);
        return n > 0 ? (int) n : n == 0 ? -1 : 0; // recv's 0 is the end of the stream
    }

    @Override
    public int write(int fd, byte[] b, int off, int len) throws IOException {
        return (int) Math.max(0, call(true, fd, b, off, len));
    }

    /**
     * {@code writev} of the direct buffers {@code srcs[off .. end)}, its vector in a slot of
     * {@link Epoll#SLOTS}: at most {@link CaptureSlots#VECTOR_LENGTH} buffers and {@code maxBytes} bytes
     * (the last buffer taken in part), again after EINTR; a {@code send} when there is one buffer.
     */
    @Override
    public long writeDirect(int fd, ByteBuffer[] srcs, int off, int end, int maxBytes) throws IOException {
        Objects.checkFromToIndex(off, end, srcs.length);
        int count = Math.min(end - off, CaptureSlots.VECTOR_LENGTH);
        for (int i = off; i < off + count; i++) {
            if (!srcs[i].isDirect()) {
                return -1;
            }
        }
        if (count == 1) { // a plain send: the kernel's path for one buffer is shorter
            ByteBuffer b = srcs[off];
            long n = Math.max(0, call(true, fd, MemorySegment.ofBuffer(b), Math.min(b.remaining(), maxBytes)));
            b.position(b.position() + (int) n);
            return n;
        }
        int slot = Epoll.SLOTS.take();
        if (slot < 0) {
            return -1;
        }
        try {
            MemorySegment vector = Epoll.SLOTS.vector(slot);
            long offered = 0;
            int used = 0;
            while (used < count && offered < maxBytes) {
                ByteBuffer b = srcs[off + used];
                long length = Math.min(b.remaining(), maxBytes - offered);
                vector.set(JAVA_LONG, used * CaptureSlots.IOVEC_BYTES, MemorySegment.ofBuffer(b).address());
                vector.set(JAVA_LONG, used * CaptureSlots.IOVEC_BYTES + Long.BYTES, length);
                offered += length;
                used++;
            }
            long written = writev(Epoll.SLOTS.segment(slot), fd, vector, used);
            Transport.consume(srcs, off, written);
            return written;
        } finally {
            Epoll.SLOTS.give(slot);
        }
    }

    /** {@code writev(fd, vector, count)}, again after EINTR: the bytes written, 0 for "would block". */
    private static long writev(MemorySegment errno, int fd, MemorySegment vector, int count) throws IOException {
        while (true) {
            long n;
            try {
                n = (long) WRITEV.invokeExact(errno, fd, vector, count);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
            if (n >= 0 || wouldBlock(errno, "writev")) {
                return Math.max(0, n);
            }
        }
    }

    @Override
    public void receiveLowWater(int fd, int bytes) throws IOException {
        int[] errno = new int[1];
        int r;
        try {
            r = (int) SETSOCKOPT.invokeExact(MemorySegment.ofArray(errno), fd, SOL_SOCKET, SO_RCVLOWAT,
                    MemorySegment.ofArray(new int[] {bytes}), Integer.BYTES);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (r != 0) {
            throw failure(errno[0], "setsockopt(SO_RCVLOWAT)");
        }
    }

    /**
     * {@code send} or {@code recv} of {@code b[off .. off+len)}, again after EINTR: what it
     * returned, or -1 for "would block"; any other failure is thrown, worded as the JDK words it.
     * errno goes to a slot of {@link Epoll#SLOTS} (to a new array only when every slot is taken).
     *
     * <p>The array's segment is made here, next to the call ({@link #invoke} is small enough to be
     * compiled into this method), so the compiler sees the whole of its short life and keeps its
     * parts in registers instead of allocating it (escape analysis). Made by a caller and passed
     * in, as it once was, a segment and its session were allocated per call: two of each per echoed
     * message, 144 of the 638 bytes allocated per message at 1,000 connections (BENCHMARKS.md,
     * "Heap segments no longer allocated"). The slice refuses a range outside the array before any
     * call: the kernel writes where it is told.
     */
    private static long call(boolean send, int fd, byte[] b, int off, int len) throws IOException {
        int slot = Epoll.SLOTS.take();
        MemorySegment errno = errno(slot);
        try {
            long n;
            do {
                n = invoke(send, errno, fd, MemorySegment.ofArray(b).asSlice(off, len), len);
            } while (n < 0 && !wouldBlock(errno, send ? "send" : "recv"));
            return n;
        } finally {
            give(slot);
        }
    }

    /** As {@link #call(boolean, int, byte[], int, int)}, of the first {@code len} bytes of a direct buffer's segment. */
    private static long call(boolean send, int fd, MemorySegment bytes, long len) throws IOException {
        int slot = Epoll.SLOTS.take();
        MemorySegment errno = errno(slot);
        try {
            long n;
            do {
                n = invoke(send, errno, fd, bytes, len);
            } while (n < 0 && !wouldBlock(errno, send ? "send" : "recv"));
            return n;
        } finally {
            give(slot);
        }
    }

    /** Where a call that took {@code slot} ({@link CaptureSlots#take()}: -1 for none) captures errno. */
    private static MemorySegment errno(int slot) {
        return slot >= 0 ? Epoll.SLOTS.segment(slot) : MemorySegment.ofArray(new int[1]);
    }

    private static void give(int slot) {
        if (slot >= 0) {
            Epoll.SLOTS.give(slot);
        }
    }

    /** One {@code send} or {@code recv}: what it returned, errno in {@code errno}. */
    private static long invoke(boolean send, MemorySegment errno, int fd, MemorySegment bytes, long len) {
        try {
            return send ? (long) SEND.invokeExact(errno, fd, bytes, len, MSG_NOSIGNAL)
                    : (long) RECV.invokeExact(errno, fd, bytes, len, 0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * After a call that failed: true when it would have blocked (EAGAIN), false when it was
     * interrupted (EINTR: make it again); any other failure is thrown.
     */
    private static boolean wouldBlock(MemorySegment errno, String call) throws IOException {
        int e = (int) Epoll.ERRNO.get(errno, 0L);
        if (e == EAGAIN) {
            return true;
        }
        if (e != EINTR) {
            throw failure(e, call);
        }
        return false;
    }

    /**
     * The exception for a failed call: a {@link SocketException} with the system's words when the
     * connection broke (the peer reset it, TCP gave up on it, its host or network went away), which
     * stcp ends as a reset; a plain {@link IOException} naming the errno for any other failure (a
     * bug, the system out of memory), which it ends as a protocol error, logged with its trace.
     */
    private static IOException failure(int errno, String call) {
        return switch (errno) {
            case EBADF -> new ClosedChannelException();
            case ECONNRESET -> new SocketException("Connection reset");
            case EPIPE -> new SocketException("Broken pipe");
            case ECONNABORTED -> new SocketException("Connection aborted");
            case ETIMEDOUT -> new SocketException("Connection timed out");
            case EHOSTUNREACH -> new SocketException("No route to host");
            case ENETUNREACH -> new SocketException("Network is unreachable");
            case EHOSTDOWN -> new SocketException("Host is down");
            case ENETDOWN -> new SocketException("Network is down");
            default -> new IOException(call + " failed: " + describe(errno));
        };
    }

    /**
     * The system's text for an error a socket call may report that is no broken connection, and its
     * name, as the JDK's channels word the message ({@code strerror}, glibc's texts); the bare number
     * for any other.
     */
    static String describe(int errno) {
        String text = switch (errno) {
            case 12 -> "Cannot allocate memory (ENOMEM)";
            case 14 -> "Bad address (EFAULT)";
            case 22 -> "Invalid argument (EINVAL)";
            case 71 -> "Protocol error (EPROTO)";
            case 88 -> "Socket operation on non-socket (ENOTSOCK)";
            case 102 -> "Network dropped connection on reset (ENETRESET)";
            case 105 -> "No buffer space available (ENOBUFS)";
            case 107 -> "Transport endpoint is not connected (ENOTCONN)";
            case 108 -> "Cannot send after transport endpoint shutdown (ESHUTDOWN)";
            case 111 -> "Connection refused (ECONNREFUSED)";
            default -> null;
        };
        return text != null ? text + ", errno " + errno : "errno " + errno;
    }
}
