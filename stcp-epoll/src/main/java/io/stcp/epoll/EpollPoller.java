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
 * and the poll loop live as long as the JVM, like the JDK's pollers, unless the loop dies.
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
 *
 * <p><b>Failures.</b> The socket is edge-triggered: an event the loop takes and does not signal
 * never comes again, and its reader would wait for ever. So:
 * <ul>
 *   <li>an event whose signal throws (an allocation failure unparking its reader, a bug) fails that
 *       socket's Readiness alone ({@link Readiness#fail}: its waiters wake and throw, its connection
 *       closes as FAILED), logged at ERROR ({@code epoll.signal.failed}); the turn's other events
 *       are signalled as usual;</li>
 *   <li>a turn that fails otherwise (the poll, the waker's re-arming) is tried again every
 *       {@value #RETRY_NANOS} ns, its first failure logged at ERROR ({@code epoll.poll.failed});
 *       a loop that has not completed a turn for {@value #GIVE_UP_NANOS} ns cannot continue, nor
 *       can one whose waker failed (it would park with no one to unpark it): it <em>dies</em>.</li>
 * </ul>
 * <b>States</b>: alive &rarr; dead, once ({@link #die}, from the poll loop or a waker). Dying closes
 * the table first ({@link Registrations#close}: no socket registers from then on, {@link #register}
 * throws and the caller picks another transport), then fails every Readiness in it, logs
 * {@code epoll.poller.dead} at ERROR once, ends the poll loop, and closes its descriptors
 * ({@link PollerFds#close}): that wakes both wakers, which end, and the last of the poll loop, the
 * wakers and the calls still under way on the descriptors closes them. So a
 * socket is either failed by the death or was never registered: none is left waiting; and a dead
 * loop leaves no thread and no descriptor behind.
 * {@link EpollReadinessSource} replaces a dead poller by a new one for the sockets that come next.
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
    /** How long a failed turn waits before the next, so that a failure does not spin (or memory pressure may ease). */
    private static final long RETRY_NANOS = 10_000_000L;
    /** How long turns may fail in a row before the loop is taken for dead. */
    static final long GIVE_UP_NANOS = 1_000_000_000L;

    /**
     * Where tests make the poll loop fail: before each poll, before each event is signalled; and a
     * registration, before its {@code epoll_ctl}. Null but in tests.
     */
    interface Faults {
        default void beforePoll() {}

        /** @param fd the socket being registered: its channel's descriptor, or a duplicate of it */
        default void beforeRegister(int fd) {}

        /** @param token the registration's, as {@link Readiness#token()}: its descriptor in the low 32 bits */
        default void beforeSignal(long token) {}
    }

    static volatile Faults faults;

    private final String name;

    private final PollerFds fds; // the poll loop and each waker hold a use of them for their thread's life
    private final int epfd;
    private final Thread[] wakers;
    private int nextWaker; // the waker the poll loop arms next; only the poll loop uses it
    private long unparkedSince = System.nanoTime(); // when the poll loop last came back from a park
    private int turnSignals; // what the signals since then did (Readiness.WOKE_READER, RAN_CALLBACK); poll loop only
    private final TurnMarks turns = new TurnMarks(); // the give-ways that started a marker
    private final Registrations registered;
    private final Thread pollLoop;
    private volatile boolean dead;

    EpollPoller(String name) throws IOException {
        this.name = name;
        fds = PollerFds.open(); // with a use of this constructor's, released at its end
        epfd = fds.epfd();
        try {
            try {
                wakers = new Thread[fds.wakers()];
                registered = new Registrations(fds);
                pollLoop = startUsing(Thread.ofVirtual().name(name), this::pollLoop);
            } catch (RuntimeException | Error e) { // nothing runs yet: the constructor's use is the last
                fds.close();
                throw e;
            }
            try {
                for (int i = 0; i < wakers.length; i++) {
                    int wakeFd = fds.wakeFd(i);
                    wakers[i] = startUsing(Thread.ofPlatform().daemon().name(name + "-waker-" + i), () -> wakeLoop(wakeFd));
                }
            } catch (RuntimeException | Error e) { // no thread for a waker: the loop would park for good
                die(e);
                throw new IOException("the epoll poll loop " + name + " cannot start its wakers", e);
            }
        } finally {
            fds.release();
        }
    }

    /** Starts {@code task} holding a use of the descriptors for the thread's life ({@link PollerFds}). */
    private Thread startUsing(Thread.Builder builder, Runnable task) {
        if (!fds.acquire()) {
            throw new IllegalStateException("the epoll poll loop " + name + " is dead");
        }
        try {
            return builder.start(() -> {
                try {
                    task.run();
                } finally {
                    fds.release();
                }
            });
        } catch (RuntimeException | Error e) {
            fds.release();
            throw e;
        }
    }

    /**
     * Watches {@code channel} (connected, non-blocking) until it is closed, by its own descriptor,
     * or by a duplicate of it that the registration's {@link Readiness#closeDescriptor()} closes
     * ({@link Registrations}, "Descriptors").
     *
     * @param duplicate the application holds the channel too ({@code Connection.of})
     * @throws IOException also if this poller is dead
     */
    Readiness register(SocketChannel channel, boolean duplicate) throws IOException {
        if (!duplicate) {
            return register(Fds.of(channel), registered);
        }
        int fd = Epoll.dup(Fds.of(channel));
        try {
            return register(fd, registered.duplicates());
        } catch (IOException | RuntimeException | Error e) { // nothing names it: it is not left open
            Epoll.close(fd);
            throw e;
        }
    }

    /** @param owner the registration's: {@link #registered}, or its owner of duplicates */
    private Readiness register(int fd, Readiness.Owner owner) throws IOException {
        if (!fds.acquire()) { // epfd stays open for the call
            throw new IOException("the epoll poll loop " + name + " is dead");
        }
        try {
            Readiness readiness = registered.add(fd, owner);
            if (readiness == null) {
                throw new IOException("the epoll poll loop " + name + " is dead");
            }
            try {
                Faults f = faults;
                if (f != null) {
                    f.beforeRegister(fd);
                }
                Epoll.ctl(epfd, CTL_ADD, fd, SOCKET_EVENTS, readiness.token());
            } catch (IOException | RuntimeException | Error e) { // out of memory too: its slot is not left taken
                registered.deregister(readiness);
                throw e;
            }
            return readiness;
        } finally {
            fds.release();
        }
    }

    /** Sockets registered and not yet closed. */
    int registeredCount() {
        return registered.size();
    }

    /** Whether this poller has died ({@link #die}): it watches nothing and registers nothing. */
    boolean isDead() {
        return dead;
    }

    String name() {
        return name;
    }

    private void pollLoop() {
        MemorySegment events;
        try {
            events = Arena.ofAuto().allocate(MAX_EVENTS * Epoll.EVENT_SIZE, 8);
        } catch (Throwable t) {
            die(t);
            return;
        }
        long failingSince = 0; // when the turns began to fail, or 0
        while (!dead) {
            try {
                pollOnce(events);
                failingSince = 0;
            } catch (Throwable t) {
                // Out of memory, say: try again a little later, in case the pressure eases; give up
                // once no turn has completed for GIVE_UP_NANOS (every socket waits for this loop).
                long now = System.nanoTime();
                if (failingSince == 0) {
                    failingSince = now | 1; // never 0
                    logError("epoll.poll.failed", t);
                } else if (now - failingSince >= GIVE_UP_NANOS) {
                    die(t);
                    return;
                }
                LockSupport.parkNanos(this, RETRY_NANOS);
            }
        }
    }

    /**
     * Signals what is ready now and yields; when nothing is, or when the loop has gone on for
     * {@link #GIVE_WAY_NANOS}, arms the next waker and parks instead.
     *
     * @throws IOException if the poll or the re-arming fails
     */
    private void pollOnce(MemorySegment events) throws IOException {
        Faults f = faults;
        if (f != null) {
            f.beforePoll();
        }
        int n = Epoll.poll(epfd, events, MAX_EVENTS);
        if (n < 0) {
            throw new IOException("epoll_wait failed");
        }
        for (int i = 0; i < n; i++) {
            Readiness r = registered.find(Epoll.data(events, i));
            if (r != null) {
                turnSignals |= signal(r, Epoll.events(events, i), f);
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
        Epoll.ctl(fds.wakeFd(nextWaker), CTL_MOD, epfd, EPOLLIN | EPOLLONESHOT, 0); // throws: the turn failed
        nextWaker ^= 1;
        LockSupport.park(this);
        unparkedSince = System.nanoTime();
        turnSignals = 0;
    }

    /**
     * Signals one event ({@code ev}) to {@code r}; one that fails, fails that socket alone
     * ({@link Readiness#fail}): its event is lost, and no other would tell its reader.
     *
     * @param f the test's faults, or null
     * @return what the signal did, as {@link Readiness#signal}
     */
    private int signal(Readiness r, int ev, Faults f) {
        try {
            if (f != null) {
                f.beforeSignal(r.token());
            }
            return r.signal((ev & EPOLLIN) != 0, (ev & EPOLLOUT) != 0, (ev & EPOLLRDHUP) != 0,
                    (ev & HANG_UP_EVENTS) != 0);
        } catch (Throwable t) {
            try {
                r.fail(t);
            } catch (Throwable ignored) {
                // its flags are set: its waiters' next wake-up, whatever it is, finds them
            }
            logError("epoll.signal.failed", t);
            return 0;
        }
    }

    /**
     * The loop cannot continue ({@code cause}): fails every socket registered with it, and ends it;
     * see "Failures" above. Once; any thread.
     */
    void die(Throwable cause) {
        if (!registered.close()) {
            return; // dead already
        }
        dead = true;
        int connections = registered.size();
        registered.failAll(cause);
        try {
            LOG.atError().setMessage("epoll.poller.dead").addKeyValue("poller", name)
                    .addKeyValue("connections", connections).setCause(cause).log();
        } catch (Throwable ignored) {
            // the sockets are failed all the same
        }
        LockSupport.unpark(pollLoop); // to see that it is dead, if it was parked
        fds.close(); // wakes the wakers; the last of them, the loop and the calls under way closes the descriptors
    }

    private void logError(String event, Throwable t) {
        try {
            LOG.atError().setMessage(event).addKeyValue("poller", name).setCause(t).log();
        } catch (Throwable ignored) {
            // nothing more to do
        }
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
            while (!dead) {
                Epoll.await(wakeFd, event, 1, errno);
                awaitMarker(System.nanoTime() + PARK_WAIT_NANOS);
                unparkOnceParked(pollLoop);
            }
        } catch (Throwable t) {
            die(t); // the poll loop would park with no one to unpark it
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
