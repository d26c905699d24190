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
 * repeats. When a poll finds nothing it arms a waker — the epoll fd itself, registered one-shot in
 * an epoll instance of the waker's — and parks; the waker, a platform thread blocked on that
 * instance, unparks the poll loop as soon as there are events. Under load the poll loop seldom
 * parks, so events cost no OS thread switch; idle, no thread runs. (The JDK's own poller has the
 * same shape in its default Linux mode; it differs in re-arming each socket for every wait.)
 *
 * <p><b>Giving way, for fairness on one carrier.</b> The JDK's scheduler runs the threads a
 * virtual thread unparked before anything else, and serves an external queue until it finds it
 * empty; the virtual threads of a carrier submit to that carrier's one queue, each platform thread
 * to a queue of its own. A poll loop that always found events and yielded was always in the local
 * queue or the carrier's, so on one carrier nothing submitted from elsewhere ran (a thread started
 * by a platform thread, an accept the JDK's poller woke), nor, while it kept waking readers, the
 * threads started meanwhile — for seconds in a probe ({@code PollerFairnessTest}). So after
 * {@value #GIVE_WAY_NANOS} ns of polls without a park, the loop parks anyway and a waker resumes
 * it, from the waker's own queue. There are two wakers, armed in turn: under load a waker unparks
 * the loop again at once, into its queue, while the threads the last turn woke still run, and
 * with a single waker the worker, back at that queue, would find it refilled and stay (readers
 * streaming without a pause: probes waited 3–6 s with one waker, under 1 s with two). A waker
 * unparks the loop only once it has parked ({@link #unparkOnceParked}): on one CPU the waker,
 * woken by the re-arming, used to run first, and its unpark left a permit the park returned on at
 * once — 93 % of give-ways were lost that way, and threads started meanwhile waited up to 1.6 s
 * behind readers that never ran out of input. Parking costs a platform thread's wake-up, too much for every turn (+3.7 µs per message at 100
 * connections × 1 in flight): see BENCHMARKS.md, "A poll loop fair on one carrier". The wakers
 * and the poll loop live as long as the JVM, like the JDK's pollers.
 *
 * <p><b>Resumed read loops in turn with woken readers.</b> A suspended read loop goes on in a thread
 * the poll loop starts ({@code Resumption}), which the JDK's scheduler puts in the poll loop's
 * external queue, while a reader the poll loop unparks goes to the carrier's local queue. After a
 * give-way the worker scans the queues from a random one, and when it found the waker's (the poll
 * loop) first, the poll loop woke another turn of readers before the started threads ran: with
 * streaming peers, where some loops suspend between frames while others wait inside one, a few
 * resumptions waited 20–70 ms from their input to their read, against at most 19 for a woken reader
 * (BENCHMARKS.md, "Resumed read loops in turn with woken readers"). So a give-way that ends a turn
 * which did both also starts a <em>marker</em>, a virtual thread queued after the threads the poll
 * loop started (one queue, first in first out), and the waker unparks the poll loop only once the
 * newest turn's marker has run (or {@value #PARK_WAIT_NANOS} ns have passed): the threads started in
 * a turn run before the next turn's readers are woken. Markers may still run out of order
 * ({@link TurnMarks} keeps the newest that ran). A turn that only started threads (one frame in flight:
 * every loop suspends between requests) needs none: there the poll loop's own yields queue behind
 * them. The marker does not unpark the poll loop itself: from a virtual thread the poll loop would go
 * to the local queue, and the worker would stay at the poll loop's queue, refilled every turn,
 * starving the other external queues as a single waker did. At most one marker a millisecond.
 */
final class EpollPoller {
    private static final Logger LOG = LoggerFactory.getLogger("io.stcp.epoll");
    private static final int MAX_EVENTS = 1024;
    static final int SOCKET_EVENTS = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    private static final int HANG_UP_EVENTS = EPOLLHUP | EPOLLERR;
    /** How long the poll loop goes on without parking before it gives way. */
    private static final long GIVE_WAY_NANOS = 1_000_000L;
    /**
     * How long a waker waits at most for the give-way's marker to run, and then again for the poll
     * loop to park: the poll loop parks right after arming the waker, so only a carrier held off its
     * CPU takes longer than microseconds for that; the marker waits for the readers woken in the last turn.
     */
    private static final long PARK_WAIT_NANOS = 50_000_000L;

    private final int epfd;
    private final int[] wakeFds = new int[2];
    private final Thread[] wakers = new Thread[wakeFds.length];
    private int nextWaker; // the waker the poll loop arms next; only the poll loop uses it
    private long unparkedSince = System.nanoTime(); // when the poll loop last came back from a park
    private int turnSignals; // what the signals since then did (Readiness.WOKE_READER, RAN_CALLBACK); poll loop only
    private final TurnMarks turns = new TurnMarks(); // the give-ways that started a marker
    private final Registrations registered;
    private final Thread pollLoop;

    EpollPoller(String name) throws IOException {
        epfd = Epoll.create();
        registered = new Registrations(epfd);
        for (int i = 0; i < wakeFds.length; i++) {
            wakeFds[i] = Epoll.create();
            Epoll.ctl(wakeFds[i], CTL_ADD, epfd, EPOLLIN | EPOLLONESHOT, 0); // armed: a first wake-up is harmless
        }
        pollLoop = Thread.ofVirtual().name(name).start(this::pollLoop);
        for (int i = 0; i < wakeFds.length; i++) {
            int wakeFd = wakeFds[i];
            wakers[i] = Thread.ofPlatform().daemon().name(name + "-waker-" + i).start(() -> wakeLoop(wakeFd));
        }
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

    /**
     * Signals what is ready now and yields; when nothing is, or when the loop has gone on for
     * {@link #GIVE_WAY_NANOS}, arms the next waker and parks instead.
     */
    private void pollOnce(MemorySegment events) {
        int n = Epoll.poll(epfd, events, MAX_EVENTS);
        for (int i = 0; i < n; i++) {
            Readiness r = registered.find(Epoll.data(events, i));
            if (r != null) {
                int ev = Epoll.events(events, i);
                turnSignals |= r.signal((ev & EPOLLIN) != 0, (ev & EPOLLOUT) != 0, (ev & EPOLLRDHUP) != 0,
                        (ev & HANG_UP_EVENTS) != 0);
            }
        }
        if (n > 0) {
            if (System.nanoTime() - unparkedSince < GIVE_WAY_NANOS) {
                Thread.yield(); // let the threads just woken run before polling again
                return;
            }
            if (turnSignals == (Readiness.WOKE_READER | Readiness.RAN_CALLBACK)) {
                startMarker();
            }
        }
        try {
            Epoll.ctl(wakeFds[nextWaker], CTL_MOD, epfd, EPOLLIN | EPOLLONESHOT, 0);
        } catch (IOException e) {
            // Cannot happen with valid descriptors; poll again a little later rather than spin.
            LOG.atError().setMessage("epoll.rearm.failed").setCause(e).log();
            LockSupport.parkNanos(this, 10_000_000L);
            return;
        }
        nextWaker ^= 1;
        LockSupport.park(this);
        unparkedSince = System.nanoTime();
        turnSignals = 0;
    }

    /**
     * A give-way ends a turn: its marker, a thread started after those the poll loop started in the
     * turn, tells the waker when they have run. One that cannot start (out of memory) is not waited for.
     */
    private void startMarker() {
        int turn = turns.begin();
        try {
            Thread.ofVirtual().start(() -> {
                turns.ran(turn);
                // Both: the one armed for this park waits, and a waker whose poll loop came back
                // early (a permit left by a late unpark) may still wait too. A permit left with a
                // waker that does not wait only makes its next wait look once more.
                for (Thread w : wakers) {
                    LockSupport.unpark(w);
                }
            });
        } catch (Throwable t) {
            turns.ran(turn); // no marker to wait for (out of memory: the poll loop goes on regardless)
        }
    }

    /** A waker waits (parks) until the newest turn's marker has run, or until {@code deadline}. */
    private void awaitMarker(long deadline) {
        long left;
        while (turns.pending() && (left = deadline - System.nanoTime()) > 0) {
            LockSupport.parkNanos(this, left);
        }
    }

    private void wakeLoop(int wakeFd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment event = arena.allocate(Epoll.EVENT_SIZE, 8);
            MemorySegment errno = Epoll.allocateErrno(arena);
            while (true) {
                Epoll.await(wakeFd, event, 1, errno);
                awaitMarker(System.nanoTime() + PARK_WAIT_NANOS);
                unparkOnceParked(pollLoop);
            }
        } catch (IOException | RuntimeException | Error e) {
            LOG.atError().setMessage("epoll.waker.failed").setCause(e).log();
        }
    }

    /**
     * Unparks {@code thread} once it has parked, giving up the CPU until then (for at most
     * {@value #PARK_WAIT_NANOS} ns). An unpark that came before the park would only leave a permit:
     * the park would return at once, on the same carrier, and the poll loop would go on without
     * giving way. On one CPU that was the rule: the waker, woken by the loop's own re-arming,
     * preempted the loop before it parked.
     */
    static void unparkOnceParked(Thread thread) {
        long since = System.nanoTime();
        while (thread.getState() == Thread.State.RUNNABLE && System.nanoTime() - since < PARK_WAIT_NANOS) {
            Thread.yield();
        }
        LockSupport.unpark(thread);
    }
}
