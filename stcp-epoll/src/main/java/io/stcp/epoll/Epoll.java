package io.stcp.epoll;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The three epoll calls, the eventfd that wakes a dead poll loop's wakers ({@link PollerFds}), and
 * the duplicate of a socket's descriptor that this module works on for a channel the application
 * holds too ({@link #dup}), through the FFM API. Linux only; x86-64 (where
 * {@code struct epoll_event} is packed into 12 bytes) and AArch64 (16 bytes).
 *
 * <p>{@code epoll_wait} with a zero timeout never blocks, so it is bound as a critical call (no
 * thread-state transition); {@code epoll_ctl}, which may wait briefly for the instance's mutex, and
 * the blocking {@code epoll_wait} are bound normally.
 */
final class Epoll {
    static final int EPOLLIN = 0x001;
    static final int EPOLLOUT = 0x004;
    static final int EPOLLERR = 0x008;
    static final int EPOLLHUP = 0x010;
    static final int EPOLLRDHUP = 0x2000;
    static final int EPOLLONESHOT = 1 << 30;
    static final int EPOLLET = 1 << 31;

    static final int CTL_ADD = 1;
    static final int CTL_DEL = 2;
    static final int CTL_MOD = 3;

    private static final int EPOLL_CLOEXEC = 0x80000;
    private static final int EFD_CLOEXEC = 0x80000;
    private static final int EFD_NONBLOCK = 0x800;
    private static final int EINTR = 4;

    private static final boolean PACKED = System.getProperty("os.arch").matches("amd64|x86_64");
    /** {@code struct epoll_event}. */
    static final long EVENT_SIZE = PACKED ? 12 : 16;
    private static final long DATA_OFFSET = PACKED ? 4 : 8;

    /** What a call bound with {@code captureCallState("errno")} captures; {@link SocketSyscalls} uses it too. */
    static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    /** The captured {@code errno} in a segment of {@link #CAPTURE}: {@code (int) ERRNO.get(segment, 0L)}. */
    static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private static final MethodHandle CREATE = bind("epoll_create1", FunctionDescriptor.of(JAVA_INT, JAVA_INT),
            Linker.Option.captureCallState("errno"));
    private static final MethodHandle CTL = bind("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS),
            Linker.Option.captureCallState("errno"));
    private static final MethodHandle CLOSE = bind("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final int F_DUPFD_CLOEXEC = 1030;
    /** {@code fcntl(fd, cmd, arg)}: variadic from its third argument. */
    private static final MethodHandle FCNTL = bind("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT),
            Linker.Option.firstVariadicArg(2), Linker.Option.captureCallState("errno"));
    private static final MethodHandle POLL = bind("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.critical(false));
    private static final MethodHandle WAIT = bind("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.captureCallState("errno"));
    private static final MethodHandle EVENTFD = bind("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT),
            Linker.Option.captureCallState("errno"));
    private static final MethodHandle WRITE = bind("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    /** The 8 bytes an eventfd is written, 1: made once, so that signalling allocates nothing. */
    private static final MemorySegment ONE = Arena.global().allocateFrom(JAVA_LONG, 1L);
    /** Where {@code epoll_ctl} and the socket calls ({@link SocketSyscalls}) capture errno and lay out what they pass. */
    static final CaptureSlots SLOTS = new CaptureSlots(CAPTURE);

    private Epoll() {}

    /** A downcall handle for the C library's function {@code name}; {@link SocketSyscalls} binds its own with it. */
    static MethodHandle bind(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        Linker linker = Linker.nativeLinker();
        MemorySegment symbol = linker.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("no " + name + " in the C library"));
        return linker.downcallHandle(symbol, descriptor, options);
    }

    /** A new epoll instance (close-on-exec). */
    static int create() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment errno = arena.allocate(CAPTURE);
            int fd = (int) CREATE.invokeExact(errno, EPOLL_CLOEXEC);
            if (fd < 0) {
                throw failure("epoll_create1", errno);
            }
            return fd;
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** A new eventfd (close-on-exec, non-blocking): readable once {@link #signal signalled}, never before. */
    static int eventFd() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment errno = arena.allocate(CAPTURE);
            int fd = (int) EVENTFD.invokeExact(errno, 0, EFD_CLOEXEC | EFD_NONBLOCK);
            if (fd < 0) {
                throw failure("eventfd", errno);
            }
            return fd;
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * Adds 1 to the eventfd {@code fd}: readable from then on, as long as nothing reads it. Allocates
     * nothing.
     *
     * @return false if the call failed
     */
    static boolean signal(int fd) {
        try {
            return (long) WRITE.invokeExact(fd, ONE, 8L) == 8;
        } catch (Throwable t) {
            return false;
        }
    }

    /**
     * A new descriptor for the file {@code fd} names (close-on-exec): {@code fcntl(F_DUPFD_CLOEXEC)}.
     * Its number stays this module's until it {@link #close closes} it, whatever becomes of
     * {@code fd}; the file (a socket) lives until both are closed.
     */
    static int dup(int fd) throws IOException {
        int slot = SLOTS.take();
        if (slot < 0) {
            try (Arena arena = Arena.ofConfined()) {
                return dup(arena.allocate(CAPTURE), fd);
            }
        }
        try {
            return dup(SLOTS.segment(slot), fd);
        } finally {
            SLOTS.give(slot);
        }
    }

    private static int dup(MemorySegment errno, int fd) throws IOException {
        int copy;
        try {
            copy = (int) FCNTL.invokeExact(errno, fd, F_DUPFD_CLOEXEC, 0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (copy < 0) {
            throw failure("fcntl(F_DUPFD_CLOEXEC)", errno);
        }
        return copy;
    }

    /** Closes a descriptor of this module's ({@code fd} &ge; 0), whatever the call says. */
    static void close(int fd) {
        try {
            int ignored = (int) CLOSE.invokeExact(fd);
        } catch (Throwable t) {
            // closing: nothing more to do
        }
    }

    /**
     * {@code epoll_ctl(epfd, op, fd, {events, data})}, its event and errno in a slot of
     * {@link #SLOTS}, so that it allocates nothing: it runs once per connection, and each time
     * the poll loop arms a waker. In memory of its own only when every slot is taken.
     */
    static void ctl(int epfd, int op, int fd, int events, long data) throws IOException {
        int slot = SLOTS.take();
        if (slot < 0) {
            try (Arena arena = Arena.ofConfined()) {
                ctl(arena.allocate(CAPTURE), arena.allocate(EVENT_SIZE, 8), epfd, op, fd, events, data);
            }
            return;
        }
        try {
            ctl(SLOTS.segment(slot), SLOTS.vector(slot), epfd, op, fd, events, data);
        } finally {
            SLOTS.give(slot);
        }
    }

    private static void ctl(MemorySegment errno, MemorySegment event, int epfd, int op, int fd, int events, long data)
            throws IOException {
        event.set(JAVA_INT_UNALIGNED, 0, events);
        event.set(JAVA_LONG_UNALIGNED, DATA_OFFSET, data);
        int r;
        try {
            r = (int) CTL.invokeExact(errno, epfd, op, fd, event);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (r != 0) {
            throw failure("epoll_ctl", errno);
        }
    }

    /** {@code epoll_wait} with a zero timeout: the ready events now, never blocking; -1 on error. */
    static int poll(int epfd, MemorySegment events, int max) {
        try {
            return (int) POLL.invokeExact(epfd, events, max, 0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code epoll_wait} blocking until at least one event; retries on EINTR. */
    static int await(int epfd, MemorySegment events, int max, MemorySegment errno) throws IOException {
        while (true) {
            int n;
            try {
                n = (int) WAIT.invokeExact(errno, epfd, events, max, -1);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
            if (n >= 0) {
                return n;
            }
            if ((int) ERRNO.get(errno, 0L) != EINTR) {
                throw failure("epoll_wait", errno);
            }
        }
    }

    static MemorySegment allocateErrno(Arena arena) {
        return arena.allocate(CAPTURE);
    }

    static int events(MemorySegment events, int i) {
        return events.get(JAVA_INT_UNALIGNED, i * EVENT_SIZE);
    }

    static long data(MemorySegment events, int i) {
        return events.get(JAVA_LONG_UNALIGNED, i * EVENT_SIZE + DATA_OFFSET);
    }

    private static IOException failure(String call, MemorySegment errno) {
        int e = (int) ERRNO.get(errno, 0L);
        String name = switch (e) {
            case 1 -> "EPERM";
            case 9 -> "EBADF";
            case 12 -> "ENOMEM";
            case 17 -> "EEXIST";
            case 22 -> "EINVAL";
            case 24 -> "EMFILE";
            case 28 -> "ENOSPC";
            default -> "errno " + e;
        };
        return new IOException(call + " failed: " + name);
    }
}
