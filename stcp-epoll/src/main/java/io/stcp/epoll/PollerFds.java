package io.stcp.epoll;

import static io.stcp.epoll.Epoll.CTL_ADD;
import static io.stcp.epoll.Epoll.EPOLLIN;
import static io.stcp.epoll.Epoll.EPOLLONESHOT;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The descriptors of one poll loop ({@link EpollPoller}) — its epoll instance, its two wakers'
 * epoll instances, and an eventfd in both of those that wakes the wakers when the loop dies — and
 * who may still use them, so that they are closed once nobody can.
 *
 * <p><b>Why not at once.</b> A descriptor number closed while another thread may still pass it to
 * the kernel (a register's {@code epoll_ctl}, a reader's report again, a waker's {@code epoll_wait})
 * names whatever file the kernel opens next with that number — a new socket, another loop's epoll
 * instance — and that call would act on it. Left open for ever, as they were before, each death
 * kept a blocked platform thread and three descriptors.
 *
 * <p><b>States</b>, in one atomic int ({@code uses << 1 | closing}):
 * <pre>
 *   OPEN, n uses        acquire: n + 1; release: n - 1. Uses held: the constructor's until it returns,
 *                       the poll loop's and each waker's for its thread's life, and a register's or a
 *                       report's (from any thread) for its one call.
 *   OPEN → CLOSING      close(), at the loop's death, once: no use is granted from then on. Holding a
 *                       use of its own meanwhile, it signals the eventfd, which the wakers' epoll_wait
 *                       watches level-triggered: they return, see the loop dead, and end.
 *   CLOSING, 0 → CLOSED the release that ends the last use closes all four descriptors, on its
 *                       thread. Once: no use can be taken while closing, so the count reaches 0 once.
 * </pre>
 * Every call that passes one of the numbers to the kernel is made under a use, so no number is
 * closed while a call may still name it. If the eventfd cannot be signalled (the call failed), the
 * wakers stay blocked and the descriptors open, as every dead loop's did before; a death is rare
 * already, and {@link EpollReadinessSource} replaces a loop at most a few times.
 */
final class PollerFds {
    private static final int CLOSING = 1;
    private static final int USE = 2;

    private final int epfd;
    private final int[] wakeFds;
    private final int eventFd;
    private final AtomicInteger state = new AtomicInteger(USE); // the constructor's use

    private PollerFds(int epfd, int[] wakeFds, int eventFd) {
        this.epfd = epfd;
        this.wakeFds = wakeFds;
        this.eventFd = eventFd;
    }

    /**
     * New descriptors, OPEN with one use held (the caller's: it {@link #release releases} it): the
     * poll loop's epoll instance; two wakers' instances, each watching it one-shot (armed: a first
     * wake-up is harmless) and the eventfd.
     *
     * @throws IOException if one cannot be made (those made are closed)
     */
    static PollerFds open() throws IOException {
        int epfd = -1;
        int eventFd = -1;
        int[] wakeFds = {-1, -1};
        try {
            epfd = Epoll.create();
            eventFd = Epoll.eventFd();
            for (int i = 0; i < wakeFds.length; i++) {
                wakeFds[i] = Epoll.create();
                Epoll.ctl(wakeFds[i], CTL_ADD, epfd, EPOLLIN | EPOLLONESHOT, 0);
                Epoll.ctl(wakeFds[i], CTL_ADD, eventFd, EPOLLIN, 0);
            }
            return new PollerFds(epfd, wakeFds, eventFd);
        } catch (IOException | RuntimeException | Error e) { // nobody has them yet
            closeAll(epfd, wakeFds, eventFd);
            throw e;
        }
    }

    /** The poll loop's epoll instance, which the sockets are registered with. */
    int epfd() {
        return epfd;
    }

    /** The epoll instance waker {@code i} (0 or 1) waits on. */
    int wakeFd(int i) {
        return wakeFds[i];
    }

    int wakers() {
        return wakeFds.length;
    }

    /**
     * Takes a use: the descriptors stay open until it is {@link #release released}.
     *
     * @return false once closing (nothing is taken: the loop is dead)
     */
    boolean acquire() {
        for (int s = state.get(); (s & CLOSING) == 0; s = state.get()) {
            if (state.compareAndSet(s, s + USE)) {
                return true;
            }
        }
        return false;
    }

    /** Ends a use; the last one after {@link #close} closes the descriptors. */
    void release() {
        if (state.addAndGet(-USE) == CLOSING) {
            closeAll(epfd, wakeFds, eventFd);
        }
    }

    /** The loop is dead: wakes its wakers, and lets the last use close the descriptors. Once; any thread. */
    void close() {
        int s = state.getAndUpdate(v -> (v & CLOSING) != 0 ? v : (v + USE) | CLOSING); // a use for the signal
        if ((s & CLOSING) != 0) {
            return;
        }
        try {
            Epoll.signal(eventFd);
        } finally {
            release();
        }
    }

    private static void closeAll(int epfd, int[] wakeFds, int eventFd) {
        for (int fd : wakeFds) {
            if (fd >= 0) {
                Epoll.close(fd);
            }
        }
        if (eventFd >= 0) {
            Epoll.close(eventFd);
        }
        if (epfd >= 0) {
            Epoll.close(epfd);
        }
    }
}
