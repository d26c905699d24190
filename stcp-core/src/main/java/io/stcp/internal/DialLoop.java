package io.stcp.internal;

import io.stcp.ClientConfig;
import io.stcp.CloseReason;
import io.stcp.Connection;
import io.stcp.ConnectionHook;
import io.stcp.ConnectionReader;
import io.stcp.Durations;
import io.stcp.Sender;
import io.stcp.SenderFactory;
import io.stcp.TcpClient;
import java.io.IOException;
import java.net.ConnectException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.DoubleSupplier;
import org.jspecify.annotations.Nullable;

/**
 * What a {@link RealTcpClient}'s dialler thread runs: dial ({@link Dialer}: TCP or a Unix
 * socket) → run the connection with a {@link RealConnectionRunner}, exactly as a server runs an
 * accepted one, its layers (TLS, {@link TlsLayer#forClient}) opened on its reader thread → wait
 * for its exit → back off ({@link Backoff}) → again, while the client runs, or while a shutdown
 * drains the offline backlog ({@link ClientLifecycle#isRunning}): its connections take it.
 *
 * <p>The back-off starts again only after a connection that stayed up at least
 * {@link ClientConfig#reconnectMaxDelay()}: one that ends sooner — a server that accepts and
 * closes at once, at its connection limit or failing — is followed by the next, longer wait, as a
 * failed attempt is, so clients do not come back every {@link ClientConfig#reconnectDelay()} for
 * as long as the server turns them away.
 *
 * <p>A connection whose layers fail, or whose connect hook throws, never comes up: a failed
 * attempt, counted, logged at WARN (rate-limited), and after {@link ClientConfig#maxAttempts()} in
 * a row the client gives up. So is
 * one that comes up and ends before its reader took a whole message from the server and before
 * it stayed up {@code reconnectMaxDelay} ({@link #turnedAway}): a server at its connection limit
 * that accepts and closes, one that refuses the client's certificate after a TLS 1.3 handshake,
 * one that expects a PROXY header or TLS the client does not send. Counted as successful only at its end,
 * a connection resets the count of failed attempts then, not when it comes up.
 * Connections never overlap: the next dial starts after the previous connection's exit hooks.
 * A connection joins the client's {@link Outbox} in its last start hook, on its reader thread,
 * and leaves it in its first exit hook. One whose connect hook throws never joins it: it ends,
 * a failed attempt ({@link Link#connect}).
 *
 * <p>The client's state changes (the runner a close must end, the failed attempts, giving up)
 * are made by its {@link ClientLifecycle}, under its lock; nothing here holds it, nor calls a
 * hook under it.
 */
final class DialLoop {
    private final ClientLifecycle lifecycle;
    private final ClientConfig config;
    private final ConnectionReader reader;
    private final SenderFactory senderFactory;
    private final Dialer dialer;
    private final AcceptLoop.Sleeper sleeper;
    private final DoubleSupplier random;
    private final Backoff backoff;
    private final ConnectionContext context;
    private final Outbox outbox;
    private final RateLimiter failureLog = new RateLimiter(TimeUnit.SECONDS.toNanos(10));
    private final AtomicLong connects = new AtomicLong();
    private final long stableNanos; // a connection up this long starts the back-off again

    private volatile @Nullable ConnectionHook connectHook;
    private volatile TcpClient.@Nullable DisconnectHook disconnectHook;
    private volatile TcpClient.@Nullable GiveUpHook giveUpHook;

    /** See {@link RealTcpClient}'s constructor with seams for the parameters. */
    DialLoop(ClientLifecycle lifecycle, ClientConfig config, ConnectionReader reader, SenderFactory senderFactory,
             Dialer.Resolver resolver, AcceptLoop.Sleeper sleeper, DoubleSupplier random, List<TransportLayer> layers,
             Outbox outbox) {
        this.lifecycle = lifecycle;
        this.config = config;
        this.reader = reader;
        this.senderFactory = senderFactory;
        this.dialer = new Dialer(config, resolver);
        this.sleeper = sleeper;
        this.random = random;
        this.backoff = new Backoff(Nanos.clamp(config.reconnectDelay()), config.reconnectMultiplier(),
                Nanos.clamp(config.reconnectMaxDelay()), config.reconnectJitter());
        // Its own exit log, as each server has: a client failing its handshakes in a loop does not
        // use up the WARN lines of other connections in the process. Its own inbound budget too:
        // without one, a server that announced a long frame made the client grow its array to four
        // times what had arrived, up to the reader's own limit, whatever the heap held.
        InboundBudget budget = new InboundBudget(config.effectiveInboundBudget(), "client's", "ClientConfig.inboundBudget");
        this.context = new ConnectionContext(Sweeper.SHARED, budget, Transports.sourceOrNull(), new ExitLog(System::nanoTime),
                Nanos.timeout(config.writeTimeout()), Nanos.timeout(config.readIdleTimeout()), 0,
                Nanos.timeout(config.frameTimeout()), layers);
        this.outbox = outbox;
        this.stableNanos = Nanos.clamp(config.reconnectMaxDelay());
    }

    void onConnect(@Nullable ConnectionHook hook) {
        this.connectHook = hook;
    }

    void onDisconnect(TcpClient.@Nullable DisconnectHook hook) {
        this.disconnectHook = hook;
    }

    void onGiveUp(TcpClient.@Nullable GiveUpHook hook) {
        this.giveUpHook = hook;
    }

    /** Connections that came up so far: their connect hook returned. */
    long connectCount() {
        return connects.get();
    }

    /**
     * The dialler thread's body: returns once the client has closed or given up. Anything that
     * escapes the loop (a bug, out of memory) ends the client, failed with it: no one else would
     * dial, and a client left running without a dialler would say "connecting" for ever.
     */
    void run() {
        long base = 0;
        try {
            while (lifecycle.isRunning()) {
                Throwable failure;
                SocketChannel channel = null;
                try {
                    channel = dialer.dial();
                    failure = null;
                } catch (IOException | RuntimeException | Error e) {
                    failure = e; // an Error too (out of memory): back off and try again, as the accept loop does
                }
                if (channel != null) {
                    Outcome outcome = runConnection(channel);
                    failure = outcome.failure;
                    if (failure == null && outcome.upNanos >= stableNanos) {
                        base = 0; // it stayed up: the back-off starts again
                    }
                    if (failure == null && outcome.upNanos > 0) {
                        lifecycle.connected(); // it served: no failed attempts in a row
                    }
                }
                if (!lifecycle.isRunning()) {
                    return;
                }
                base = backoff.next(base);
                long wait = backoff.jittered(base, random.getAsDouble());
                if (failure != null && failed(failure, wait)) {
                    return; // gave up
                }
                sleeper.sleep(wait);
            }
        } catch (InterruptedException e) {
            // closed during a back-off wait
        } catch (Throwable t) {
            fail(t);
        } finally {
            lifecycle.diallerEnded();
        }
    }

    /**
     * How a connection ended.
     *
     * @param failure null if it was up (its connect hook returned) and served, or the client closed
     *                meanwhile, else why not: it never came up, or was turned away ({@link #turnedAway})
     * @param upNanos how long it was up, from its connect hooks to its exit; 0 if it never was
     */
    private record Outcome(@Nullable Throwable failure, long upNanos) {
        static Outcome failed(Throwable failure) {
            return new Outcome(failure, 0);
        }
    }

    /** The runner of a connection, with the client's hooks and {@code link}'s. */
    private RealConnectionRunner runner(RealConnection connection, Link link) {
        RealConnectionRunner r = new RealConnectionRunner(connection, reader, senderFactory, runner -> {});
        r.hookNames("connect", "disconnect"); // as onConnect and onDisconnect name them
        r.addStartHook(link::started);
        ConnectionHook onConnect = connectHook;
        if (onConnect != null) {
            r.addStartHook(s -> link.connect(r, onConnect, s));
        }
        r.addStartHook(s -> link.join(r, s)); // after the connect hook: its messages go first
        r.addExitHook(link::goDown);
        TcpClient.DisconnectHook onDisconnect = disconnectHook;
        if (onDisconnect != null) {
            r.addExitHook(s -> onDisconnect.onDisconnect(s, reasonOf(s.connection())));
        }
        return r;
    }

    /** Runs a connection on {@code channel} until it exits. */
    private Outcome runConnection(SocketChannel channel) {
        RealConnection connection;
        try {
            connection = ConnectionOpener.open(channel, context);
        } catch (IOException | RuntimeException | Error e) {
            Quietly.close(channel, "socket"); // whatever it throws, the dialler backs off and dials again
            return Outcome.failed(e);
        }
        Link link;
        RealConnectionRunner r;
        try {
            link = new Link();
            r = runner(connection, link);
        } catch (RuntimeException | Error e) { // out of memory, most likely: the connection is not left open
            connection.close();
            return Outcome.failed(e);
        }
        if (!lifecycle.attach(r)) {
            connection.close();
            return new Outcome(null, 0);
        }
        try {
            r.start();
            awaitExit(r);
        } catch (RuntimeException | Error e) {
            connection.close(); // its reader thread could not be started
            return Outcome.failed(e);
        } finally {
            lifecycle.detach();
        }
        Throwable refused = link.refused;
        if (refused != null) {
            return Outcome.failed(refused); // never up: a failed attempt, whatever the hook took time to read
        }
        if (link.started) {
            long up = Math.max(1, System.nanoTime() - link.upSinceNanos);
            return new Outcome(turnedAway(connection, up), up);
        }
        Throwable cause = connection.closeCause();
        return Outcome.failed(cause != null ? cause
                : new IOException("connection ended before it was up (" + reasonOf(connection) + ")"));
    }

    /**
     * Why a connection that was up, for {@code upNanos}, counts as a failed attempt, or null if it
     * does not. It does if it ended before its reader took a whole message from the server (a
     * frame completed, or a reader call returned having consumed bytes) and before it stayed up
     * {@code reconnectMaxDelay}: the server took the connection only to end it — at its connection
     * limit, or refusing what the client sent (a certificate refused after a TLS 1.3 handshake, a
     * missing PROXY header, plain text to a TLS port, whose server answers with an alert the
     * reader cannot take for a message). Otherwise such a server would never be given up on, and
     * the client would say so only at DEBUG. A connection whose reader took a message from the
     * server served; one that stayed up that long is as stable as the back-off asks, even if the
     * server never speaks (a client that only sends).
     */
    private @Nullable Throwable turnedAway(RealConnection connection, long upNanos) {
        if (connection.input().deadlines().messageTaken() || upNanos >= stableNanos) {
            return null;
        }
        long read = connection.bytesRead();
        Throwable cause = connection.closeCause(); // the server's TLS alert, say: named, as the WARN line shows no cause
        IOException e = new IOException("connection ended " + Durations.format(Duration.ofNanos(upNanos))
                + " after it came up, " + (read == 0 ? "before the server sent anything"
                        : "before its reader took a whole message from the server (it read " + read + " byte"
                                + (read == 1 ? "" : "s") + ")")
                + " (" + reasonOf(connection) + (cause != null ? ": " + cause : "") + ")");
        if (cause != null) {
            e.initCause(cause);
        }
        return e;
    }

    private static final Duration HAND_OVER_GRACE = Duration.ofSeconds(1);

    /**
     * One connection's part: counted as made, and joined to the outbox, by its last start hook, once
     * its connect hook returned — after the connect hook's messages, not waiting for a first byte from
     * the server (a reader may wait for one suspended, a server may say nothing until asked). A
     * backlog is handed over by a thread of its own, whose puts wait for room (the send thread
     * starts right after the start hooks) while the reader reads the replies it causes; the
     * connection's exit waits for that thread before the outbox lets the sender go
     * ({@link #goDown}), so a hand-over never outlives its connection.
     */
    private final class Link {
        volatile boolean started;
        volatile long upSinceNanos; // written before started
        volatile @Nullable Throwable refused; // what the connect hook threw: the connection never goes up
        private volatile @Nullable Thread handOver;
        private volatile Outbox.@Nullable HandOver handing; // what that thread hands over

        void started(Sender s) {
            upSinceNanos = System.nanoTime();
            started = true;
        }

        /**
         * The user's connect hook, run by {@code r}: one that throws fails the connection. It ends
         * as a reader that threw would ({@link RealConnectionRunner#failStart}: for the reason the
         * exception gives, what the hook put written first if that reason flushes; the exception
         * is its close cause, which the disconnect hook and {@code conn.exit} see), it
         * never goes up ({@link #join}), and it is a failed attempt: a login the server refuses, or
         * that a balancer with no server behind it never answers, gets the next back-off, and the
         * offline queue keeps its messages for a connection whose hook succeeds. Rethrown, the
         * exception is logged as any hook's ({@code conn.hook.failed}): at DEBUG if the client's
         * close or shutdown ended the hook's wait, whose reason (CLOSED, SHUTDOWN) is then the
         * connection's.
         */
        void connect(RealConnectionRunner r, ConnectionHook hook, Sender s) throws Exception {
            try {
                hook.onEvent(s);
            } catch (Throwable t) {
                refused = t;
                r.failStart(t);
                throw t;
            }
        }

        /**
         * The last start hook: {@code s} is the one that is up, or the hand-over starts; unless the
         * connection does not come up ({@link RealConnectionRunner#comesUp}): the connect hook
         * failed ({@link #connect}), or a close came during the hooks (one that returned all the
         * same: it swallowed the close's interrupt) — then it is not counted, and the offline queue
         * keeps its messages for the next connection. If this fails (no thread to be had),
         * the connection ends: a hook's failure is only logged, and a connection that never goes up
         * must not stay.
         */
        void join(RealConnectionRunner r, Sender s) {
            if (!r.comesUp()) {
                return;
            }
            Connection c = s.connection();
            connects.incrementAndGet(); // made: its connect hook returned
            Log.CLIENT.atDebug().setMessage("client.connect").addKeyValue("address", config.address())
                    .addKeyValue("conn", c.id()).log();
            Outbox.HandOver h = null;
            try {
                h = outbox.tryGoUp(s);
                if (h != null) {
                    handing = h;
                    Outbox.HandOver mine = h;
                    handOver = Threads.start("stcp-conn-" + c.id() + "-offline", () -> handOver(c, mine));
                }
            } catch (RuntimeException | Error e) {
                if (h != null && handOver == null) {
                    outbox.abandon(h); // never began: no shutdown waits for it
                }
                c.close();
                throw e;
            }
        }

        /**
         * The hand-over thread's body: its puts wait for room as the reader's do. Should it fail
         * (a sender of the user's whose {@code isClosed} throws), the connection ends, as when the
         * thread cannot start: it would never go up. What the hand-over had taken and not handed
         * on goes back to the offline queue first.
         */
        private void handOver(Connection c, Outbox.HandOver h) {
            try {
                ActingReader.run(c, () -> outbox.goUp(h));
            } catch (RuntimeException | Error e) {
                outbox.abandon(h);
                Log.conn(Log.WARN, "conn.sender.failed", c).addKeyValue("op", "handOver").setCause(e).log();
                c.close();
            }
        }

        /**
         * The exit hook: once the hand-over (if any) has ended — the sender is closed by now, so it
         * ends — the outbox lets {@code s} go. A sender of the user's whose put ignores its close
         * is interrupted after {@link #HAND_OVER_GRACE} and, if it still waits after another, left
         * behind with a WARN line, so that the client's close and the next connection do not wait
         * for it for ever: what it had not handed on goes back to the offline queue now, for the
         * next connection (or is counted discarded if the client closed), not whenever it returns
         * ({@link Outbox#abandon}).
         */
        void goDown(Sender s) {
            Thread t = handOver;
            if (t != null && !Threads.joinOrLeave(t, HAND_OVER_GRACE)) {
                Outbox.HandOver h = handing;
                if (h != null) {
                    outbox.abandon(h);
                }
                Log.conn(Log.WARN, "client.offline.stuck", s.connection()).addKeyValue("thread", t.getName()).log();
            }
            outbox.goDown(s);
        }
    }


    private static CloseReason reasonOf(Connection c) {
        CloseReason r = c.closeReason();
        return r != null ? r : CloseReason.CLOSED;
    }

    /** Waits for the runner's exit; a close ends it, so an interrupt (the close's) does not stop the wait. */
    private static void awaitExit(RealConnectionRunner r) {
        uninterruptibly(() -> r.awaitExit(Duration.ofDays(1)));
    }

    private interface Wait {
        /** @return false to wait again */
        boolean await() throws InterruptedException;
    }

    /** Waits until {@code w} is done; an interrupt meanwhile does not stop the wait, and is kept for later. */
    private static void uninterruptibly(Wait w) {
        boolean interrupted = false;
        while (true) {
            try {
                if (w.await()) {
                    break;
                }
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** The loop ended by {@code t}: the client closes, failed with it, and says so at ERROR. */
    private void fail(Throwable t) {
        boolean wasRunning = lifecycle.failed(t);
        try {
            Log.CLIENT.atError().setMessage("client.failed").addKeyValue("address", config.address())
                    .addKeyValue("wasRunning", wasRunning).setCause(t).log();
        } catch (Throwable logFailed) {
            // out of memory even for the line: the client has ended all the same
        }
    }

    /**
     * Counts a failed attempt and logs it, or gives up.
     *
     * @return true if the client gave up (or closed meanwhile)
     */
    private boolean failed(Throwable failure, long waitNanos) {
        int n = lifecycle.countFailure();
        if (config.maxAttempts() != 0 && n >= config.maxAttempts()) {
            ConnectException e = new ConnectException("gave up connecting to " + config.address() + " after "
                    + (n == 1 ? "1 failed attempt: " : n + " failed attempts in a row: ") + failure);
            e.initCause(failure);
            if (!lifecycle.giveUp(e)) {
                return true; // closed meanwhile
            }
            Log.CLIENT.atWarn().setMessage("client.gave_up").addKeyValue("address", config.address())
                    .addKeyValue("attempts", n).setCause(failure).log();
            TcpClient.GiveUpHook hook = giveUpHook;
            if (hook != null) {
                try {
                    hook.onGiveUp(n, failure);
                } catch (Throwable t) {
                    Log.CLIENT.atWarn().setMessage("client.hook.failed").addKeyValue("address", config.address())
                            .addKeyValue("hook", "giveUp").setCause(t).log();
                }
            }
            return true;
        }
        long held = failureLog.tryAcquire();
        if (held >= 0) {
            Log.suppressed(Log.CLIENT.atWarn().setMessage("client.connect.failed")
                    .addKeyValue("address", config.address())
                    .addKeyValue("attempt", n)
                    .addKeyValue("retryIn", Durations.format(Duration.ofNanos(waitNanos))), held)
                            .addKeyValue("error", failure.toString()).log();
        }
        return false;
    }
}
