package io.stcp.internal;

import io.stcp.Connection;
import io.stcp.ConnectionHook;
import io.stcp.ConnectionReader;
import io.stcp.ConnectionRunner;
import io.stcp.ReaderStalledException;
import io.stcp.Sender;
import io.stcp.SenderClosedException;
import io.stcp.SenderFactory;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketException;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.event.Level;

/**
 * The {@link ConnectionRunner} implementation.
 *
 * <p>The reader thread owns the lifecycle; its run method is one try/finally. Ordering guarantees:
 * start hooks finish before the reader is first called (same thread); the exit hooks run in the
 * finally block after the send thread has been joined, so after both loops; {@link #exited} makes
 * "exactly once" visible to waiters.
 *
 * <p>{@link #exit()} may race with the reader thread leaving the loop. {@link #lock} guards
 * {@link #readerInLoop}: exit interrupts the reader only while it is in the loop, and the reader
 * clears its interrupt status under the same lock when it leaves, so an exit never leaks an
 * interrupt into the exit hooks.
 */
public final class RealConnectionRunner implements ConnectionRunner {
    private static final int STALL_CALLS = 1000;
    private static final long STALL_WINDOW_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final Duration DEFAULT_FLUSH_TIMEOUT = Duration.ofSeconds(5);
    /** How long the send loop may take to notice that its sender was closed. */
    private static final Duration SEND_THREAD_GRACE = Duration.ofSeconds(1);

    private final Connection connection;
    private final ConnectionReader reader;
    private final SenderFactory factory;
    private final Runnable onExited;
    private final List<ConnectionHook> startHooks = new CopyOnWriteArrayList<>();
    private final List<ConnectionHook> exitHooks = new CopyOnWriteArrayList<>();
    private final AtomicBoolean started = new AtomicBoolean();
    private final CountDownLatch exited = new CountDownLatch(1);
    private volatile Sender sender;
    private volatile boolean exitRequested;

    private final ReentrantLock lock = new ReentrantLock();
    private Thread readerThread;   // guarded by lock
    private boolean readerInLoop;  // guarded by lock

    /**
     * A runner whose sender is made by {@code factory} on the reader thread.
     *
     * @param onExited runs last, after the exit hooks, even if the factory failed
     */
    public RealConnectionRunner(Connection connection, ConnectionReader reader, SenderFactory factory,
                                Runnable onExited) {
        this.connection = Objects.requireNonNull(connection, "connection");
        this.reader = Objects.requireNonNull(reader, "reader");
        this.factory = Objects.requireNonNull(factory, "factory");
        this.onExited = Objects.requireNonNull(onExited, "onExited");
    }

    public static RealConnectionRunner forSender(ConnectionReader reader, Sender sender) {
        Objects.requireNonNull(sender, "sender");
        RealConnectionRunner runner = new RealConnectionRunner(sender.connection(), reader, c -> sender, () -> {});
        runner.sender = sender;
        return runner;
    }

    @Override
    public ConnectionRunner addStartHook(ConnectionHook hook) {
        checkNotStarted();
        startHooks.add(Objects.requireNonNull(hook, "hook"));
        return this;
    }

    @Override
    public ConnectionRunner addExitHook(ConnectionHook hook) {
        checkNotStarted();
        exitHooks.add(Objects.requireNonNull(hook, "hook"));
        return this;
    }

    private void checkNotStarted() {
        if (started.get()) {
            throw new IllegalStateException("hooks must be added before start()");
        }
    }

    @Override
    public void start() {
        if (started.compareAndSet(false, true)) {
            Threads.start("stcp-conn-" + connection.id(), this::run);
        }
    }

    @Override
    public void exit() {
        exitRequested = true;
        Sender s = sender;
        if (s != null) {
            closeQuietly(s);
        } else {
            connection.close();
        }
        lock.lock();
        try {
            if (readerInLoop && readerThread != Thread.currentThread()) {
                readerThread.interrupt();
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public Sender sender() {
        return sender;
    }

    @Override
    public Connection connection() {
        return connection;
    }

    @Override
    public boolean isExited() {
        return exited.getCount() == 0;
    }

    @Override
    public boolean awaitExit(Duration timeout) throws InterruptedException {
        return exited.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    // ---------------------------------------------------------------- reader thread

    private void run() {
        lock.lock();
        try {
            readerThread = Thread.currentThread();
            readerInLoop = true;
        } finally {
            lock.unlock();
        }
        Sender s = sender;
        if (s == null) {
            s = createSender();
            if (s == null) {
                leaveLoop();
                connection.close();
                finish();
                return;
            }
            sender = s;
            if (exitRequested) {
                closeQuietly(s);
            }
        }
        Thread sendThread = null;
        Throwable failure = null;
        try {
            runHooks(startHooks, "start", s);
            Log.conn(Level.DEBUG, "conn.start", connection).log();
            if (!exitRequested) {
                Sender loopSender = s;
                sendThread = Threads.start("stcp-conn-" + connection.id() + "-send", () -> sendLoop(loopSender));
                if (connection instanceof RealConnection rc) {
                    rc.readerThread = Thread.currentThread(); // lets the sender write replies inline
                }
                readLoop(s);
            }
        } catch (Throwable t) {
            failure = t;
        } finally {
            if (!exitRequested && failure instanceof SenderClosedException) {
                // The sender is closing, maybe gracefully (shutdown) while the peer still sends:
                // read what it sends until it closes, or the close would reset the connection.
                // Still in the loop, so a graceful closer waits for this (lingerAfterFlush).
                discardInputUntilPeerCloses();
            }
            leaveLoop();
            if (!exitRequested && (failure instanceof EOFException || failure instanceof SenderClosedException)) {
                flushQuietly(s); // the peer is done or the sender is closing: write what is queued first
            } else {
                closeQuietly(s);
            }
            joinSendThread(sendThread);
            logExit(failure);
            runHooks(exitHooks, "exit", s);
            finish();
        }
    }

    private Sender createSender() {
        try {
            Sender s = factory.create(connection);
            if (s == null) {
                throw new IllegalStateException("sender factory returned null");
            }
            return s;
        } catch (Throwable t) {
            Log.conn(Level.WARN, "conn.factory.failed", connection).setCause(t).log();
            return null;
        }
    }

    private void readLoop(Sender s) throws Exception {
        long lastRead = connection.bytesRead();
        int idleCalls = 0;
        long idleSince = 0;
        RealConnection real = connection instanceof RealConnection rc ? rc : null;
        while (!exitRequested) {
            reader.read(s, connection);
            if (real != null) {
                real.firstFrameDone();
            }
            long read = connection.bytesRead();
            if (read != lastRead) {
                lastRead = read;
                idleCalls = 0;
                continue;
            }
            if (idleCalls++ == 0) {
                idleSince = System.nanoTime();
            } else if (idleCalls >= STALL_CALLS) {
                if (System.nanoTime() - idleSince < STALL_WINDOW_NANOS) {
                    throw new ReaderStalledException("the reader returned " + idleCalls
                            + " times within 1s without reading a byte; a reader must block on the connection");
                }
                idleCalls = 0;
            }
        }
    }

    private void leaveLoop() {
        if (connection instanceof RealConnection rc) {
            rc.readerThread = null;
        }
        lock.lock();
        try {
            readerInLoop = false;
            Thread.interrupted(); // an exit() interrupt is for the loop, not for the exit hooks
        } finally {
            lock.unlock();
        }
    }

    private void flushQuietly(Sender s) {
        Duration timeout = connection.writeTimeout().isZero() ? DEFAULT_FLUSH_TIMEOUT : connection.writeTimeout();
        try {
            s.closeAfterFlush(timeout);
        } catch (Throwable t) {
            Log.conn(Level.WARN, "conn.sender.failed", connection).addKeyValue("op", "closeAfterFlush").setCause(t).log();
            closeQuietly(s);
        } finally {
            Thread.interrupted();
        }
    }

    /** Reads and drops input until end of stream, at most {@link SenderSupport#LINGER_SECONDS}. */
    private void discardInputUntilPeerCloses() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(SenderSupport.LINGER_SECONDS);
        byte[] sink = new byte[1024];
        if (connection instanceof RealConnection rc) {
            rc.discardingInput();
        }
        try {
            connection.readDeadline(null);
            long left;
            while ((left = deadline - System.nanoTime()) > 0) {
                connection.readTimeout(Duration.ofNanos(left));
                if (connection.read(sink, 0, sink.length) < 0) {
                    return;
                }
            }
        } catch (IOException | RuntimeException e) {
            // timed out, closed or reset: nothing more to wait for
        }
    }

    private void closeQuietly(Sender s) {
        try {
            s.close();
        } catch (Throwable t) {
            Log.conn(Level.WARN, "conn.sender.failed", connection).addKeyValue("op", "close").setCause(t).log();
        }
        connection.close();
    }

    /**
     * Waits for the send thread. The sender is closed by now, so its loop should end at once; a
     * custom sender whose loop ignores the close is interrupted after {@link #SEND_THREAD_GRACE}
     * and, if it still runs, left behind with a WARN line, so the exit hooks run anyway.
     */
    private void joinSendThread(Thread t) {
        if (t == null) {
            return;
        }
        long deadline = System.nanoTime() + SEND_THREAD_GRACE.toNanos();
        boolean nudged = false;
        while (t.isAlive()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                if (nudged) {
                    Log.conn(Level.WARN, "conn.send.stuck", connection).addKeyValue("thread", t.getName()).log();
                    break;
                }
                t.interrupt();
                nudged = true;
                deadline = System.nanoTime() + SEND_THREAD_GRACE.toNanos();
                continue;
            }
            try {
                t.join(Duration.ofNanos(left));
            } catch (InterruptedException e) {
                // not for us: the exit hooks run after the send loop all the same
            }
        }
        Thread.interrupted();
    }

    private void runHooks(List<ConnectionHook> hooks, String kind, Sender s) {
        for (ConnectionHook hook : hooks) {
            try {
                hook.onEvent(s);
            } catch (Throwable t) {
                Log.conn(Level.WARN, "conn.hook.failed", connection).addKeyValue("hook", kind).setCause(t).log();
            }
        }
    }

    private void finish() {
        exited.countDown();
        try {
            onExited.run();
        } catch (Throwable t) {
            Log.conn(Level.WARN, "conn.exit.callback.failed", connection).setCause(t).log();
        }
    }

    // ---------------------------------------------------------------- send thread

    private void sendLoop(Sender s) {
        boolean drained = false;
        try {
            s.sendLoop();
            drained = connection instanceof RealConnection rc && rc.isOutputShutdown();
        } catch (Throwable t) {
            if (!isQuiet(t)) {
                Log.conn(Level.WARN, "conn.send.failed", connection).setCause(t).log();
            } else {
                Log.conn(Level.DEBUG, "conn.send.ended", connection).addKeyValue("reason", t.toString()).log();
            }
        } finally {
            if (!drained) {
                exit();
            }
            // else a graceful close wrote everything and sent the FIN: whoever called closeAfterFlush
            // closes the connection, after the peer has closed too (see SenderSupport.lingerAfterFlush)
        }
    }

    // ---------------------------------------------------------------- logging

    private void logExit(Throwable failure) {
        if (failure == null || isQuiet(failure)) {
            Log.conn(Level.DEBUG, "conn.exit", connection)
                    .addKeyValue("reason", failure == null ? "exit" : failure.toString()).log();
        } else {
            Log.conn(Level.WARN, "conn.exit", connection).addKeyValue("reason", failure.toString())
                    .setCause(failure).log();
        }
    }

    /** Expected ends of a connection: peer gone, closed by us, or the exit we asked for. */
    private boolean isQuiet(Throwable t) {
        if (t instanceof EOFException || t instanceof ClosedChannelException || t instanceof SenderClosedException
                || t instanceof io.stcp.ReadTimeoutException) {
            return true;
        }
        if (exitRequested && (t instanceof InterruptedException || t instanceof IOException)) {
            return true;
        }
        if (t instanceof SocketException e) {
            String m = String.valueOf(e.getMessage());
            return m.contains("reset") || m.contains("Broken pipe") || m.contains("closed");
        }
        return t instanceof IOException && !connection.isOpen();
    }
}
