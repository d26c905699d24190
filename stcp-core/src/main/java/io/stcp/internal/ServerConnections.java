package io.stcp.internal;

import io.stcp.CloseReason;
import io.stcp.ConnectionHook;
import io.stcp.ConnectionReader;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * A server's connections, from the accepted socket to the exit: each socket the
 * {@link Admission} lets in is opened as a {@link RealConnection}, run by a
 * {@link RealConnectionRunner} with the server's hooks and registry, and kept in {@link #runners}
 * until it has exited.
 *
 * <p><b>Slots.</b> A running connection owns the slot its admission took and gives it back after
 * its exit hooks ({@link #onExited}); a connection that never started gives it back at once.
 * Either way the server is told next ({@link #slotReturned}): it may have terminated.
 *
 * <p><b>Ending.</b> A connection registered after {@link #endAll()} or {@link #shutdownAll} has
 * walked {@link #runners} sees {@link #ending} and exits at once (both are volatile/CHM writes
 * made before the other side reads them).
 *
 * <p><b>Threads.</b> {@link #accept} runs on the accept thread, which the server starts after
 * {@link #open}; {@link #onExited} on the connections' threads; the rest on any thread.
 */
final class ServerConnections {
    private final ServerConfig config;
    private final ConnectionReader reader;
    private final SenderFactory senderFactory;
    private final Admission admission;
    private final StatsCounters stats;
    private final Runnable slotReturned;
    private volatile ConnectionHook startHook;
    private volatile ConnectionHook exitHook;
    private volatile RealConnectionRegistry registry; // null: no registry work at all
    private ConnectionContext context;                // set by open(), before the accept thread starts
    private ServerListener listener;                  // set by open(), before the accept thread starts
    private final Set<RealConnectionRunner> runners = ConcurrentHashMap.newKeySet(); // no boxed id per connection
    private final Consumer<RealConnectionRunner> exited = this::onExited;             // one for all runners
    /** Runs on each connection once it is open; a test seam ({@link #afterOpen}) can make it fail, as out of memory would. */
    private volatile Consumer<RealConnection> opened = connection -> {};
    /** Starts a connection's thread; a test seam ({@link #startWith}) can make it fail, as out of memory would. */
    private volatile Consumer<RealConnectionRunner> starter = RealConnectionRunner::start;
    /** Set by endAll() and shutdownAll() before they walk the connections; not by a drain, which leaves them be. */
    private volatile boolean ending;

    /**
     * @param stats where each connection's counts go when it ends
     * @param slotReturned called after a connection gave its slot back
     */
    ServerConnections(ServerConfig config, ConnectionReader reader, SenderFactory senderFactory, Admission admission,
                      StatsCounters stats, Runnable slotReturned) {
        this.config = config;
        this.reader = reader;
        this.senderFactory = senderFactory;
        this.admission = admission;
        this.stats = stats;
        this.slotReturned = slotReturned;
    }

    void onStart(ConnectionHook hook) {
        this.startHook = hook;
    }

    void onExit(ConnectionHook hook) {
        this.exitHook = hook;
    }

    void registry(RealConnectionRegistry registry) {
        this.registry = registry;
    }

    /** Tests only: connections' threads are started by {@code starter}, which may throw. */
    void startWith(Consumer<RealConnectionRunner> starter) {
        this.starter = starter;
    }

    /** Tests only: {@code step} runs on each connection once it is open, before its runner is made, and may throw. */
    void afterOpen(Consumer<RealConnection> step) {
        this.opened = step;
    }

    /** The server listens: connections are opened with {@code context}, on sockets {@code listener} accepts. */
    void open(ConnectionContext context, ServerListener listener) {
        this.context = context;
        this.listener = listener;
    }

    /** Admits {@code channel} and runs its connection; the accept loop's handler. */
    void accept(SocketChannel channel) {
        Admission.Admitted admitted = admission.admit(channel);
        if (admitted == null) {
            return; // refused, or gone already
        }
        boolean running = false;
        try {
            running = run(channel, admitted.limited());
        } finally {
            if (!running) {
                // The peer went away before its connection could start, or starting it threw (the
                // accept loop logs that and carries on): the slot is ours to give back.
                admission.abandon(channel, admitted);
                slotReturned.run();
            }
        }
    }

    /**
     * Starts a runner for {@code channel}, which then owns the slot ({@link #onExited}).
     *
     * <p>Once the connection is open, its transport holds the socket — on epoll it alone may close
     * the channel, once no call of its own on the descriptor is under way — so whatever fails before
     * its thread runs (out of memory, most likely) closes the connection, which closes the
     * transport once: its peer sees the close. Counted accepted as soon as it is open, it then
     * ends FAILED (unless ending gave it SHUTDOWN first), so the counts balance and never go back.
     *
     * @return false if the peer went away first
     */
    private boolean run(SocketChannel channel, InetAddress limited) {
        RealConnection connection;
        try {
            if (!listener.isUnix()) {
                channel.setOption(StandardSocketOptions.TCP_NODELAY, config.tcpNoDelay());
            }
            connection = ConnectionOpener.open(channel, context);
        } catch (IOException | RuntimeException e) {
            return false;
        }
        RealConnectionRunner runner = null;
        try {
            admission.countAccepted(connection);
            opened.accept(connection);
            if (listener.isUnix()) {
                connection.ends().local(listener.address()); // the path clients use, not the name it was bound under
            }
            connection.limitedAddress = limited;
            RealConnectionRegistry reg = registry;
            runner = new RealConnectionRunner(connection, reader, senderFactory, exited);
            if (reg != null) {
                runner.registerIn(reg); // first, so the user's start hook can bind the connection
            }
            ConnectionHook start = startHook;
            ConnectionHook exit = exitHook;
            if (start != null) {
                runner.addStartHook(start);
            }
            if (exit != null) {
                runner.addExitHook(exit);
            }
            runners.add(runner);
            if (ending) {
                runner.exit(CloseReason.SHUTDOWN);
            }
            starter.accept(runner);
        } catch (RuntimeException | Error e) {
            notStarted(connection, runner, e);
            throw e; // the accept loop logs it and carries on
        }
        return true;
    }

    /**
     * Ends {@code connection}, open but never run, for {@code failure}: counted ended (taken out
     * of {@link #runners} if {@code runner}, null if not made yet, was put there), then closed,
     * last, so that a peer that sees the close sees the count done. Its slot and limited address
     * are given back by {@link #accept}.
     */
    private void notStarted(RealConnection connection, @Nullable RealConnectionRunner runner, Throwable failure) {
        connection.limitedAddress = null; // released by accept
        try {
            CloseReason reason = connection.recordEnd(CloseReason.FAILED, failure);
            if (runner == null || !stats.ended(runners, runner, reason, connection.accepted)) {
                stats.endedBeforeListed(reason, connection.accepted);
            }
        } finally {
            connection.close(); // never throws
        }
    }

    private void onExited(RealConnectionRunner runner) {
        RealConnection connection = runner.realConnection();
        // Only a connection counted accepted is counted ended: a PROXY health check, a refused
        // header, a peer gone before its header was read, are counted as what they were, if at all.
        stats.ended(runners, runner, connection.closeReason(), connection.accepted);
        admission.release(connection.limitedAddress);
        slotReturned.run();
    }

    /** The live connections' runners, for the stats. */
    Collection<RealConnectionRunner> runners() {
        return runners;
    }

    /** Whether the calling thread is one of the live connections' own (a reader, or a hook on its thread); a scan. */
    boolean isOwnThread() {
        for (RealConnectionRunner runner : runners) {
            if (runner.isOwnThread()) {
                return true;
            }
        }
        return false;
    }

    /** Ends every connection, discarding what their senders still queue; returns at once. */
    void endAll() {
        ending = true;
        for (RealConnectionRunner runner : runners) {
            runner.exit(CloseReason.SHUTDOWN);
        }
    }

    /**
     * Shuts every connection down gracefully, each on a thread of its own, by {@code deadline} at
     * the latest: a reader call in progress finishes first, then no call begins, what is queued is
     * written and the connection closes; a connection whose reader waits between requests is shut
     * down at once ({@link RealConnectionRunner#finishAndShutdown}). A connection whose thread cannot
     * start (out of memory) is ended at once instead, what it queued discarded, and the others are
     * shut down all the same.
     *
     * @param discarded set if some connection could not write everything
     * @return the threads, to join
     */
    List<Thread> shutdownAll(long deadline, AtomicBoolean discarded) {
        ending = true;
        List<Thread> flushers = new ArrayList<>();
        for (RealConnectionRunner runner : runners) {
            try {
                flushers.add(Threads.start("stcp-shutdown-" + runner.connection().id(), () -> {
                    if (runner.finishAndShutdown(deadline) != 0) {
                        discarded.set(true);
                    }
                }));
            } catch (Throwable t) {
                discarded.set(true);
                runner.exit(CloseReason.SHUTDOWN);
            }
        }
        return flushers;
    }
}
