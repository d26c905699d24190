package io.stcp.internal;

import io.stcp.CloseReason;
import io.stcp.Connection;
import java.lang.invoke.MethodHandles;
import java.util.List;
import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/**
 * stcp's JDK Flight Recorder events, category {@code stcp}: a connection's start and exit (with
 * its reason and lifetime), and the failures an operator hunts for — slow consumer, write timeout,
 * queue full, protocol error (frame too long, corrupt frame, stalled reader), accept back-off.
 * Record them with {@code java -XX:StartFlightRecording:filename=rec.jfr ...} and read them with
 * {@code jfr print --events 'stcp.*' rec.jfr}.
 *
 * <p><b>Cost.</b> Each method allocates its event and asks {@link Event#shouldCommit()} before
 * reading anything: with no recording (or the event disabled) that is a check of a flag, and the
 * JIT removes the allocation. None is on the path of a message that succeeds; the per-connection
 * ones run once per connection. No event records a stack trace (they would cost more than the
 * event, and the connection id says where to look).
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread; the event is committed on
 * the calling thread (usually the connection's reader or send thread).
 */
public final class JfrEvents {
    private JfrEvents() {}

    @Name("stcp.ConnectionStart")
    @Label("Connection Start")
    @Category("stcp")
    @Description("A connection's start hooks have run; its reader is about to be called.")
    @StackTrace(false)
    static final class ConnectionStart extends Event {
        @Label("Connection Id")
        long conn;
        @Label("Remote Address")
        String remoteAddress;
        @Label("Local Address")
        String localAddress;
        @Label("Transport")
        String transport;
    }

    @Name("stcp.ConnectionExit")
    @Label("Connection Exit")
    @Category("stcp")
    @Description("A connection has ended (the one conn.exit log line): why, after how long, and what it moved.")
    @StackTrace(false)
    static final class ConnectionExit extends Event {
        @Label("Connection Id")
        long conn;
        @Label("Remote Address")
        String remoteAddress;
        @Label("Reason")
        @Description("The CloseReason")
        String reason;
        @Label("Failure")
        @Description("Whether the reason is a failure (logged at WARN)")
        boolean failure;
        @Label("Lifetime")
        @Timespan(Timespan.NANOSECONDS)
        long lifetime;
        @Label("Bytes Read")
        @DataAmount(DataAmount.BYTES)
        long bytesRead;
        @Label("Bytes Written")
        @DataAmount(DataAmount.BYTES)
        long bytesWritten;
        @Label("Discarded")
        @Description("Queued messages that were never written")
        int discarded;
        @Label("Cause")
        String cause;
    }

    @Name("stcp.SlowConsumer")
    @Label("Slow Consumer")
    @Category("stcp")
    @Description("A send queue overflowed under OverflowPolicy.CLOSE_CONNECTION: the connection is closed.")
    @StackTrace(false)
    static final class SlowConsumer extends Event {
        @Label("Connection Id")
        long conn;
        @Label("Remote Address")
        String remoteAddress;
        @Label("Discarded")
        @Description("Queued messages discarded with the queue")
        int discarded;
    }

    @Name("stcp.QueueFull")
    @Label("Queue Full")
    @Category("stcp")
    @Description("A put was refused: the send queue was full (or the message larger than its byte limit).")
    @StackTrace(false)
    static final class QueueFull extends Event {
        @Label("Connection Id")
        long conn;
        @Label("Remote Address")
        String remoteAddress;
        @Label("Reader")
        @Description("Whether the put came from the connection's own reader (after waiting for room)")
        boolean reader;
        @Label("Message")
        String message;
    }

    @Name("stcp.WriteTimeout")
    @Label("Write Timeout")
    @Category("stcp")
    @Description("A write blocked past the write timeout (the peer stopped reading): the connection is closed.")
    @StackTrace(false)
    static final class WriteTimeout extends Event {
        @Label("Connection Id")
        long conn;
        @Label("Remote Address")
        String remoteAddress;
        @Label("Write Timeout")
        @Timespan(Timespan.NANOSECONDS)
        long timeout;
        @Label("Bytes Written")
        @Description("Bytes written to the peer before the write that timed out")
        @DataAmount(DataAmount.BYTES)
        long bytesWritten;
    }

    @Name("stcp.ProtocolError")
    @Label("Protocol Error")
    @Category("stcp")
    @Description("The reader failed with an I/O error of its own: frame too long, corrupt frame, stalled reader...")
    @StackTrace(false)
    static final class ProtocolError extends Event {
        @Label("Connection Id")
        long conn;
        @Label("Remote Address")
        String remoteAddress;
        @Label("Exception")
        String exception;
        @Label("Message")
        String message;
    }

    @Name("stcp.AcceptBackoff")
    @Label("Accept Back-off")
    @Category("stcp")
    @Description("The accept loop sleeps after a failed accept (EMFILE, ENFILE...); the event spans the sleep.")
    @StackTrace(false)
    static final class AcceptBackoff extends Event {
        @Label("Failures")
        @Description("Failed accepts in a row")
        int failures;
        @Label("Delay")
        @Timespan(Timespan.NANOSECONDS)
        long delay;
        @Label("Error")
        String error;
    }

    /**
     * Registers every event type with the Flight Recorder now, which its first use would do: on a
     * cold JVM that takes 130–330 ms (the first event type) under a class-initialization lock, and
     * every connection that starts meanwhile would wait for it (on one carrier, pinning it).
     * Called by a server's and a client's {@code start()}; cheap once done.
     */
    static void register() {
        MethodHandles.Lookup lookup = MethodHandles.lookup();
        for (Class<?> type : List.of(ConnectionStart.class, ConnectionExit.class, SlowConsumer.class, QueueFull.class,
                WriteTimeout.class, ProtocolError.class, AcceptBackoff.class)) {
            try {
                lookup.ensureInitialized(type);
            } catch (IllegalAccessException e) {
                throw new AssertionError(e); // nested in this class: always accessible
            }
        }
    }

    /** The connection's reader is about to be called for the first time. */
    static void connectionStart(RealConnection c) {
        ConnectionStart e = new ConnectionStart();
        if (e.shouldCommit()) {
            e.conn = c.id();
            e.remoteAddress = c.remoteAddressText();
            e.localAddress = HostPort.format(c.localAddress());
            e.transport = c.transportName();
            e.commit();
        }
    }

    /**
     * The connection has ended for {@code reason}; called once, before the exit hooks. Never
     * throws: even out of memory, the exit hooks and the slot's release that follow must run.
     */
    static void connectionExit(RealConnection c, CloseReason reason, Throwable cause, int discarded) {
        try {
            commitExit(c, reason, cause, discarded);
        } catch (Throwable t) {
            // no event then; the connection's end goes on
        }
    }

    private static void commitExit(RealConnection c, CloseReason reason, Throwable cause, int discarded) {
        ConnectionExit e = new ConnectionExit();
        if (e.shouldCommit()) {
            e.conn = c.id();
            e.remoteAddress = c.remoteAddressText();
            e.reason = reason.name();
            e.failure = reason.isFailure();
            e.lifetime = System.nanoTime() - c.openedNanos();
            e.bytesRead = c.bytesRead();
            e.bytesWritten = c.bytesWritten();
            e.discarded = discarded;
            e.cause = cause == null ? null : cause.toString();
            e.commit();
        }
        if (reason == CloseReason.PROTOCOL_ERROR && cause != null) {
            protocolError(c, cause);
        }
    }

    private static void protocolError(RealConnection c, Throwable cause) {
        ProtocolError e = new ProtocolError();
        if (e.shouldCommit()) {
            e.conn = c.id();
            e.remoteAddress = c.remoteAddressText();
            e.exception = cause.getClass().getName();
            e.message = cause.getMessage();
            e.commit();
        }
    }

    /** A send queue overflowed under CLOSE_CONNECTION, discarding {@code discarded} messages. */
    public static void slowConsumer(Connection c, int discarded) {
        SlowConsumer e = new SlowConsumer();
        if (e.shouldCommit()) {
            e.conn = c.id();
            e.remoteAddress = c.remoteAddressText();
            e.discarded = discarded;
            e.commit();
        }
    }

    /** A put on {@code c}'s sender was refused with {@code message}. */
    public static void queueFull(Connection c, String message) {
        QueueFull e = new QueueFull();
        if (e.shouldCommit()) {
            e.conn = c.id();
            e.remoteAddress = c.remoteAddressText();
            e.reader = c.isReaderThread();
            e.message = message;
            e.commit();
        }
    }

    /** A write on {@code c} blocked past {@code timeoutNanos}; called once per connection. */
    static void writeTimeout(RealConnection c, long timeoutNanos) {
        WriteTimeout e = new WriteTimeout();
        if (e.shouldCommit()) {
            e.conn = c.id();
            e.remoteAddress = c.remoteAddressText();
            e.timeout = timeoutNanos;
            e.bytesWritten = c.bytesWritten();
            e.commit();
        }
    }

    /**
     * Begins the event of a back-off sleep; {@link #endAcceptBackoff} ends and commits it. Never
     * throws: the accept loop backs off even when memory is short (then without an event, null).
     */
    static AcceptBackoff beginAcceptBackoff() {
        try {
            AcceptBackoff e = new AcceptBackoff();
            e.begin();
            return e;
        } catch (Throwable t) {
            return null;
        }
    }

    /** Ends the back-off sleep that followed {@code failures} failed accepts in a row, the last with {@code error}. */
    static void endAcceptBackoff(AcceptBackoff e, int failures, long delayNanos, Throwable error) {
        try {
            if (e != null && e.shouldCommit()) {
                e.failures = failures;
                e.delay = delayNanos;
                e.error = error.toString();
                e.commit();
            }
        } catch (Throwable t) {
            // no event then; the accept loop goes on
        }
    }
}
