package io.stcp.epoll;

import static io.stcp.epoll.Epoll.CTL_ADD;
import static io.stcp.epoll.Epoll.CTL_MOD;
import static io.stcp.epoll.Epoll.EPOLLERR;
import static io.stcp.epoll.Epoll.EPOLLET;
import static io.stcp.epoll.Epoll.EPOLLHUP;
import static io.stcp.epoll.Epoll.EPOLLIN;
import static io.stcp.epoll.Epoll.EPOLLONESHOT;
import static io.stcp.epoll.Epoll.EPOLLOUT;
import static io.stcp.epoll.Epoll.EPOLLRDHUP;

import io.stcp.internal.Readiness;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One epoll instance watching sockets edge-triggered, each registered once for its lifetime with
 * a token that finds its {@link Readiness} ({@link Registrations}). A socket leaves the instance
 * when it is closed (the kernel drops the registration with the file); its token leaves the table
 * when its Readiness closes, so a late event for it finds nothing and is ignored.
 *
 * <p><b>Threads.</b> The poll loop is a virtual thread: it asks for the ready events without
 * blocking, signals each socket's Readiness, yields so the woken readers and writers run, and
 * repeats. When a poll finds nothing it arms the waker — the epoll fd itself, registered one-shot
 * in a second epoll instance — and parks; a platform thread blocks on that second instance and
 * unparks the poll loop as soon as the first has events. Under load the poll loop never parks,
 * so events cost no OS thread switch; idle, neither thread runs. (The JDK's own poller has the
 * same shape in its default Linux mode; it differs in re-arming each socket for every wait.)
 * Both threads live as long as the JVM, like the JDK's pollers.
 */
final class EpollPoller {
    private static final Logger LOG = LoggerFactory.getLogger("io.stcp.epoll");
    private static final int MAX_EVENTS = 1024;
    private static final int SOCKET_EVENTS = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    private static final int HANG_UP_EVENTS = EPOLLHUP | EPOLLERR;

    private final int epfd;
    private final int wakeFd;
    private final Registrations registered = new Registrations();
    private final Thread pollLoop;

    EpollPoller(String name) throws IOException {
        epfd = Epoll.create();
        wakeFd = Epoll.create();
        Epoll.ctl(wakeFd, CTL_ADD, epfd, EPOLLIN | EPOLLONESHOT, 0);
        pollLoop = Thread.ofVirtual().name(name).start(this::pollLoop);
        Thread.ofPlatform().daemon().name(name + "-waker").start(this::wakeLoop);
    }

    /** Watches {@code channel} (connected, non-blocking) until it is closed. */
    Readiness register(SocketChannel channel) throws IOException {
        int fd = Fds.of(channel);
        Readiness readiness = registered.add(fd);
        try {
            Epoll.ctl(epfd, CTL_ADD, fd, SOCKET_EVENTS, readiness.token());
        } catch (IOException | RuntimeException e) {
            registered.deregister(readiness);
            throw e;
        }
        return readiness;
    }

    /** Sockets registered and not yet closed. */
    int registeredCount() {
        return registered.size();
    }

    private void pollLoop() {
        MemorySegment events = Arena.ofAuto().allocate(MAX_EVENTS * Epoll.EVENT_SIZE, 8);
        while (true) {
            try {
                pollOnce(events);
            } catch (Throwable t) {
                // Out of memory, say: every connection of the JVM waits on this loop, so it must
                // not die. Report, let the pressure ease, poll again (edges are sticky in Readiness
                // only once signalled, but level state is re-read by the next edge or syscall).
                try {
                    LOG.atError().setMessage("epoll.poll.failed").setCause(t).log();
                } catch (Throwable ignored) {
                    // nothing more to do
                }
                LockSupport.parkNanos(this, 10_000_000L);
            }
        }
    }

    /** Signals what is ready now, or, when nothing is, arms the waker and parks. */
    private void pollOnce(MemorySegment events) {
        int n = Epoll.poll(epfd, events, MAX_EVENTS);
        if (n > 0) {
            for (int i = 0; i < n; i++) {
                Readiness r = registered.find(Epoll.data(events, i));
                if (r != null) {
                    int ev = Epoll.events(events, i);
                    r.signal((ev & EPOLLIN) != 0, (ev & EPOLLOUT) != 0, (ev & EPOLLRDHUP) != 0,
                            (ev & HANG_UP_EVENTS) != 0);
                }
            }
            Thread.yield(); // let the threads just woken run before polling again
            return;
        }
        try {
            Epoll.ctl(wakeFd, CTL_MOD, epfd, EPOLLIN | EPOLLONESHOT, 0);
        } catch (IOException e) {
            // Cannot happen with valid descriptors; poll again a little later rather than spin.
            LOG.atError().setMessage("epoll.rearm.failed").setCause(e).log();
            LockSupport.parkNanos(this, 10_000_000L);
            return;
        }
        LockSupport.park(this);
    }

    private void wakeLoop() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment event = arena.allocate(Epoll.EVENT_SIZE, 8);
            MemorySegment errno = Epoll.allocateErrno(arena);
            while (true) {
                Epoll.await(wakeFd, event, 1, errno);
                LockSupport.unpark(pollLoop);
            }
        } catch (IOException | RuntimeException | Error e) {
            LOG.atError().setMessage("epoll.waker.failed").setCause(e).log();
        }
    }
}
