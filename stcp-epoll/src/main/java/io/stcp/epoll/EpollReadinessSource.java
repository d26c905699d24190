package io.stcp.epoll;

import io.stcp.internal.Readiness;
import io.stcp.internal.ReadinessSource;
import io.stcp.internal.SocketCalls;
import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.LoggerFactory;

/**
 * The Linux epoll transport for stcp, found by {@link java.util.ServiceLoader}: with this module
 * on the class or module path and the JVM flags below, stcp servers wait for socket readiness
 * through one edge-triggered epoll registration per connection instead of the JDK's per-wait
 * one-shot re-arming, which saves two system calls per request/response exchange.
 *
 * <p><b>Pollers.</b> Sockets are shared out over {@value #POLLERS_PROPERTY} poll loops (default: one
 * per four cores, at least one), each with its own epoll instance and its own table of sockets, in turn as they
 * are registered: nothing on the path of a ready event is shared between pollers, so a server on
 * many cores is not bound to one poll loop. Each poll loop is a virtual thread, so the JDK's
 * scheduler runs them on whichever cores are free. A poll loop that cannot continue dies, failing
 * its sockets' connections ({@code epoll.poller.dead}, ERROR); the next socket for its place
 * starts a new one instead ({@link EpollPoller}, "Failures").
 *
 * <p><b>Socket calls.</b> Reads, and writes of one buffer, are this module's own {@code recv} and
 * {@code send} straight on the Java array ({@link SocketSyscalls}), not the JDK channel's, which
 * copies every heap buffer through a temporary direct one and takes a lock per call. Writes of
 * several buffers still go through the channel: one gathering system call, the JDK's copy
 * included, costs less than a call per buffer. {@value #SOCKET_CALLS_PROPERTY}{@code =false}
 * switches them off; a JVM that cannot make them (logged once, {@code epoll.socket_calls.unavailable})
 * uses the channel's.
 *
 * <p>Needs Linux on x86-64 or AArch64, JDK 22+, and
 * {@code --enable-native-access=ALL-UNNAMED --add-exports java.base/sun.nio.ch=ALL-UNNAMED}
 * (on the module path: {@code =io.stcp.epoll}). Without any of these, stcp logs why once
 * ({@code server.transport.unavailable}) and uses the JDK transport.
 */
public final class EpollReadinessSource implements ReadinessSource {
    /** The system property that sets how many poll loops share the sockets (at least 1). */
    public static final String POLLERS_PROPERTY = "io.stcp.epoll.pollers";
    /**
     * The system property that, set to {@code false}, makes reads and writes go through the JDK
     * channel's calls instead of this module's own (default {@code true}).
     */
    public static final String SOCKET_CALLS_PROPERTY = "io.stcp.epoll.socketCalls";
    /** How often the poll loop of one place is replaced after it dies, in a JVM's life ({@link #replace}). */
    static final int MAX_REPLACEMENTS = 3;

    /** Called by {@link java.util.ServiceLoader}; does nothing until first used. */
    public EpollReadinessSource() {}

    @Override
    public String name() {
        return "epoll";
    }

    @Override
    public String unavailableReason() {
        return Holder.UNAVAILABLE;
    }

    @Override
    public Readiness register(SocketChannel channel) throws IOException {
        return poller().register(channel, false);
    }

    /** As {@link #register}, on a duplicate of the channel's descriptor ({@link Registrations}, "Descriptors"). */
    @Override
    public Readiness registerShared(SocketChannel channel) throws IOException {
        return poller().register(channel, true);
    }

    /** The poller the next socket goes to, in turn. */
    private static EpollPoller poller() throws IOException {
        EpollPoller[] pollers = Holder.POLLERS;
        if (pollers == null) {
            throw new IOException("epoll transport unavailable: " + Holder.UNAVAILABLE);
        }
        int i = Math.floorMod(Holder.NEXT.getAndIncrement(), pollers.length);
        EpollPoller poller = pollers[i];
        if (poller.isDead()) {
            poller = replace(pollers, i);
        }
        return poller; // its register throws if it died meanwhile: that socket uses the JDK transport
    }

    /**
     * The live poller at {@code pollers[i]}: a new one in place of a dead one, at most
     * {@link #MAX_REPLACEMENTS} attempts per place. A fault that kills every loop of a place (a bug,
     * the kernel) would kill each new one too, each death failing the connections it had: past that
     * many, the place's sockets use the JDK transport.
     * Under {@code REPLACING}, so that two sockets do not both start one.
     *
     * @throws IOException if no new poller can start, or may (the socket uses the JDK transport)
     */
    private static EpollPoller replace(EpollPoller[] pollers, int i) throws IOException {
        Holder.REPLACING.lock();
        try {
            EpollPoller p = pollers[i];
            if (p.isDead()) {
                if (Holder.REPLACED[i] == MAX_REPLACEMENTS) {
                    throw new IOException("the epoll poll loop " + p.name() + " is dead, and its place was given a new one "
                            + MAX_REPLACEMENTS + " times already: its sockets use the JDK transport");
                }
                Holder.REPLACED[i]++; // an attempt counts, even one that fails
                p = new EpollPoller(p.name());
                pollers[i] = p; // read without the lock, it is this one (its fields final) or the dead one (then here again)
            }
            return p;
        } finally {
            Holder.REPLACING.unlock();
        }
    }

    @Override
    public SocketCalls socketCalls() {
        return Holder.CALLS;
    }

    /** Sockets registered and not yet closed, per poller; for tests. */
    static int[] registeredCounts() {
        EpollPoller[] pollers = Holder.POLLERS;
        int[] counts = new int[pollers == null ? 0 : pollers.length];
        for (int i = 0; i < counts.length; i++) {
            counts[i] = pollers[i].registeredCount();
        }
        return counts;
    }

    /** Sockets registered and not yet closed; for tests. */
    static int registeredCount() {
        return Arrays.stream(registeredCounts()).sum();
    }

    /**
     * How many pollers: {@code value} (of {@value #POLLERS_PROPERTY}), or one per four of
     * {@code cores} when it is null.
     *
     * @throws IllegalArgumentException if {@code value} is not a number from 1 to 1024
     */
    static int pollerCount(String value, int cores) {
        if (value == null) {
            return Math.max(1, cores / 4);
        }
        try {
            int n = Integer.parseInt(value.trim());
            if (n >= 1 && n <= 1024) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(POLLERS_PROPERTY + ": " + value + " (expected: 1 to 1024)");
    }

    /**
     * The direct system calls; or, when {@code unavailable} says why this JVM cannot make them,
     * null (the JDK channel's calls) and an INFO line {@code epoll.socket_calls.unavailable} with
     * that text under {@code error}.
     */
    static SocketCalls directCalls(String unavailable) {
        if (unavailable != null) {
            LoggerFactory.getLogger("io.stcp.epoll").atInfo().setMessage("epoll.socket_calls.unavailable")
                    .addKeyValue("error", unavailable).log();
            return null;
        }
        return SocketSyscalls.INSTANCE;
    }

    /** Checks once, and starts the pollers once, when first asked. */
    private static final class Holder {
        static final EpollPoller[] POLLERS;
        static final String UNAVAILABLE;
        static final AtomicInteger NEXT = new AtomicInteger();
        /** Replaces dead pollers ({@link #replace}): guards {@link #REPLACED} and the writes to {@link #POLLERS}. */
        static final ReentrantLock REPLACING = new ReentrantLock();
        /** How often each place's poller was replaced ({@link #replace}); guarded by {@link #REPLACING}. */
        static final int[] REPLACED;
        static final SocketCalls CALLS;

        static {
            EpollPoller[] pollers = null;
            String reason = check();
            if (reason == null) {
                try {
                    int count = pollerCount(System.getProperty(POLLERS_PROPERTY),
                            Runtime.getRuntime().availableProcessors());
                    pollers = new EpollPoller[count];
                    for (int i = 0; i < count; i++) {
                        pollers[i] = new EpollPoller(count == 1 ? "stcp-epoll" : "stcp-epoll-" + i);
                    }
                } catch (IOException | RuntimeException | LinkageError e) {
                    pollers = null; // those started idle for good: nothing registers with them
                    reason = "cannot start the epoll poller: " + e;
                }
            }
            POLLERS = pollers;
            REPLACED = new int[pollers == null ? 0 : pollers.length];
            UNAVAILABLE = reason;
            CALLS = pollers != null ? socketCalls() : null;
        }

        /** The direct system calls, unless switched off or this JVM cannot make them (then the JDK's, and a log line why). */
        private static SocketCalls socketCalls() {
            if (!Boolean.parseBoolean(System.getProperty(SOCKET_CALLS_PROPERTY, "true"))) {
                return null;
            }
            return directCalls(SocketSyscalls.check());
        }

        private static String check() {
            if (!System.getProperty("os.name", "").startsWith("Linux")) {
                return "not Linux";
            }
            if (!System.getProperty("os.arch", "").matches("amd64|x86_64|aarch64")) {
                return "unsupported architecture " + System.getProperty("os.arch");
            }
            String flags = JvmFlags.missing(EpollReadinessSource.class.getModule());
            return flags != null ? flags : Fds.UNAVAILABLE;
        }
    }
}
