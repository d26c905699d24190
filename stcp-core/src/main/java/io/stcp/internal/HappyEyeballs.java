package io.stcp.internal;

import io.stcp.Durations;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * One dial to a host of several addresses: tries them staggered, as RFC 8305 ("Happy Eyeballs")
 * says, and returns the first connection made.
 *
 * <ul>
 *   <li><b>Order</b> ({@link #interleaved}): the resolver's, the two address families taking
 *       turns, starting with the first address's.
 *   <li><b>Pacing</b>: the first try starts at once; the next when a try fails, or else
 *       {@code attemptDelay} after the last one started — sooner if that try's share of the time
 *       left is shorter ({@link #shareOf}: the time left divided by the addresses left), so that
 *       every address is tried within the connect timeout, however many there are. A try is not
 *       given up when the next starts: each runs until it connects, fails, or the deadline.
 *   <li><b>The end</b>: the first try to connect wins; the dial fails when every try has failed
 *       ({@link #failedAtEach}, naming each address and its failure), when the deadline passes
 *       (the tries still connecting then count as timed out), or when the dialling thread is
 *       interrupted (the client's close).
 * </ul>
 *
 * <p><b>Threads.</b> Each try runs a blocking connect on a virtual thread of its own: at most one
 * per address. The dialling thread starts them and waits for their reports; when the race ends,
 * it interrupts those still connecting (which closes their channels) and waits for every one to
 * end before it returns, for {@link #JOIN_GRACE} at most.
 *
 * <p><b>States</b> ({@link #over}, under {@link #lock}): OPEN, then OVER, set once by the dialling
 * thread when the race ends, whichever way. Every channel is closed exactly once, by its owner. A
 * try owns its channel until it reports: a failed one has closed it, and a connected one hands
 * it over with its report if the race is OPEN, or closes it itself if it is OVER. The dialling
 * thread owns the channels reported: it returns the first and closes the others, those reported
 * before the race ended and not yet looked at included ({@link #end}).
 */
final class HappyEyeballs {

    /** One connect within {@code timeoutNanos} (0: the system's), on a try's thread; a seam for tests. */
    @FunctionalInterface
    interface Connector {
        /** A connected channel, or a failure with the channel closed. */
        SocketChannel connect(InetSocketAddress remote, long timeoutNanos) throws IOException;
    }

    /** How long the end of a race waits for the tries it interrupted: they end at once, a real connect does. */
    static final Duration JOIN_GRACE = Duration.ofSeconds(1);

    private final String address;
    private final List<InetSocketAddress> remotes;
    private final long deadline;
    private final long attemptDelayNanos;
    private final Duration connectTimeout;
    private final Connector connector;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition reported = lock.newCondition();
    private final ArrayDeque<Report> reports = new ArrayDeque<>(); // guarded by lock
    private boolean over;                                           // guarded by lock

    /** What a try ended with: its channel, connected, or its failure. */
    private record Report(int index, @Nullable SocketChannel channel, @Nullable Throwable failure) {}

    /**
     * @param address           the configured address, for messages
     * @param remotes           the addresses, in the order to try them ({@link #interleaved}): two or more,
     *                          each one the local address, if any, can reach ({@link Dialer#reachableFrom})
     * @param deadline          the {@code nanoTime} by which to be connected; 0: none
     * @param attemptDelayNanos how long a try runs alone before the next starts
     * @param connectTimeout    what {@code deadline} came from, for messages
     */
    HappyEyeballs(String address, List<InetSocketAddress> remotes, long deadline, long attemptDelayNanos,
                  Duration connectTimeout, Connector connector) {
        this.address = address;
        this.remotes = List.copyOf(remotes);
        this.deadline = deadline;
        this.attemptDelayNanos = attemptDelayNanos;
        this.connectTimeout = connectTimeout;
        this.connector = connector;
    }

    /**
     * {@code remotes} in the order to try them: the first, then one of the other family (IPv4,
     * IPv6) if any, then the next of the first family, and so on, each family in its own order;
     * what is left of one family when the other runs out, last. So a host whose addresses of one
     * family all fail is connected through the other after one try, not after all of them.
     */
    static List<InetSocketAddress> interleaved(List<InetSocketAddress> remotes) {
        if (remotes.isEmpty()) {
            return remotes;
        }
        boolean firstIs6 = isIpv6(remotes.get(0));
        List<InetSocketAddress> first = new ArrayList<>(remotes.size());
        List<InetSocketAddress> other = new ArrayList<>(remotes.size());
        for (InetSocketAddress a : remotes) {
            (isIpv6(a) == firstIs6 ? first : other).add(a);
        }
        List<InetSocketAddress> order = new ArrayList<>(remotes.size());
        for (int i = 0; i < Math.max(first.size(), other.size()); i++) {
            if (i < first.size()) {
                order.add(first.get(i));
            }
            if (i < other.size()) {
                order.add(other.get(i));
            }
        }
        return order;
    }

    private static boolean isIpv6(InetSocketAddress a) {
        return a.getAddress() instanceof Inet6Address;
    }

    /**
     * How long a try at the first of {@code addressesLeft} addresses, {@code leftNanos} before
     * the deadline, has before the next starts beside it, at most: an equal share of what is
     * left; at least 1 ns.
     */
    static long shareOf(long leftNanos, int addressesLeft) {
        return Math.max(1, leftNanos / addressesLeft);
    }

    /** Races the tries; see the class comment. Runs on the dialling thread, once. */
    SocketChannel connect() throws IOException {
        int n = remotes.size();
        Thread[] tries = new Thread[n];
        Throwable[] failures = new Throwable[n];
        int started = 0;
        int failed = 0;
        long nextStart = System.nanoTime(); // when the next try starts, unless a failure starts it sooner
        SocketChannel winner = null;
        try {
            while (true) {
                long now = System.nanoTime();
                boolean toStart = started < n && !Nanos.passed(deadline, now);
                if (toStart && now - nextStart >= 0) {
                    tries[started] = start(started, deadline == 0 ? 0 : Math.max(1, Nanos.left(deadline, now)));
                    started++;
                    // the try just started is at the first of n - started + 1 addresses left
                    nextStart = deadline == 0 ? now + attemptDelayNanos
                            : now + Math.min(attemptDelayNanos, shareOf(Nanos.left(deadline, now), n - started + 1));
                    continue;
                }
                Report r = toStart ? awaitReport(true, nextStart)
                        : awaitReport(deadline != 0, deadline); // every try started, or no time left to start one
                if (r == null) {
                    if (toStart) {
                        continue; // time for the next try
                    }
                    throw timedOut(failures, started);
                }
                if (r.channel != null) {
                    winner = r.channel;
                    return winner;
                }
                failures[r.index] = r.failure;
                if (++failed == n) {
                    throw failedAtEach(failures);
                }
                nextStart = System.nanoTime(); // a try failed: the next starts now
            }
        } finally {
            end(winner, tries);
        }
    }

    /** Starts the try at {@code remotes.get(index)}. */
    private Thread start(int index, long timeoutNanos) {
        InetSocketAddress remote = remotes.get(index);
        return Threads.start("stcp-client-connect-" + HostPort.format(remote), () -> {
            SocketChannel ch;
            try {
                ch = connector.connect(remote, timeoutNanos);
            } catch (Throwable t) { // out of memory too: that address failed, the race goes on
                report(new Report(index, null, t));
                return;
            }
            if (!report(new Report(index, ch, null))) {
                Quietly.close(ch, "socket"); // another won, the time ran out, or the client closed
            }
        });
    }

    /** Hands {@code r} to the dialling thread, unless the race is over. */
    private boolean report(Report r) {
        lock.lock();
        try {
            if (over) {
                return false;
            }
            reports.add(r);
            reported.signal();
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * The next report, or null once {@code until} (a {@code nanoTime}), if {@code timed}, passes
     * without one. An interrupt (the client's close) ends the dial.
     */
    private @Nullable Report awaitReport(boolean timed, long until) throws IOException {
        lock.lock();
        try {
            while (reports.isEmpty()) {
                if (!timed) {
                    reported.await();
                } else {
                    long left = until - System.nanoTime();
                    if (left <= 0) {
                        return null;
                    }
                    reported.awaitNanos(left);
                }
            }
            return reports.poll();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("connecting to " + address + ": interrupted (the client closed)");
        } finally {
            lock.unlock();
        }
    }

    /**
     * Ends the race: those reported and not looked at are closed (but the winner), those still
     * connecting are interrupted, and every try's thread is waited for, {@link #JOIN_GRACE} in all
     * at most; an interrupt of this thread meanwhile is kept for later.
     */
    private void end(@Nullable SocketChannel winner, Thread[] tries) {
        List<Report> left;
        lock.lock();
        try {
            over = true;
            left = new ArrayList<>(reports);
            reports.clear();
        } finally {
            lock.unlock();
        }
        for (Report r : left) {
            if (r.channel != null && r.channel != winner) {
                Quietly.close(r.channel, "socket");
            }
        }
        for (Thread t : tries) {
            if (t != null) {
                t.interrupt(); // ends its connect, closing its channel; nothing, if it has ended
            }
        }
        boolean interrupted = false;
        long joinDeadline = System.nanoTime() + JOIN_GRACE.toNanos();
        for (Thread t : tries) {
            while (t != null && t.isAlive()) {
                long wait = joinDeadline - System.nanoTime();
                if (wait <= 0) {
                    break; // left to end by itself: it closes its channel, the race being over
                }
                try {
                    t.join(Duration.ofNanos(wait));
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** The deadline passed: the tries not heard from timed out, those not started never ran. */
    private IOException timedOut(Throwable[] failures, int started) {
        String within = "within the connect timeout of " + Durations.format(connectTimeout);
        for (int i = 0; i < failures.length; i++) {
            if (failures[i] == null) {
                failures[i] = new SocketTimeoutException(i < started ? "no connection " + within : "not tried " + within);
            }
        }
        return failedAtEach(failures);
    }

    /**
     * A dial that failed at each address: a {@link SocketTimeoutException} if each try timed
     * out, else a {@link ConnectException}; its message names every address with its failure, in
     * the order tried; the first failure is its cause and the others are suppressed.
     */
    private IOException failedAtEach(Throwable[] failures) {
        StringBuilder m = new StringBuilder("connecting to ").append(address).append(": failed at each of its ")
                .append(remotes.size()).append(" addresses:");
        boolean allTimedOut = true;
        for (int i = 0; i < failures.length; i++) {
            m.append(i == 0 ? " " : "; ").append(HostPort.format(remotes.get(i))).append(" (").append(failures[i]).append(')');
            allTimedOut &= failures[i] instanceof SocketTimeoutException;
        }
        IOException e = allTimedOut ? new SocketTimeoutException(m.toString()) : new ConnectException(m.toString());
        e.initCause(failures[0]);
        for (int i = 1; i < failures.length; i++) {
            e.addSuppressed(failures[i]);
        }
        return e;
    }
}
