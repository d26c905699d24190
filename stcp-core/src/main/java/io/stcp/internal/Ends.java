package io.stcp.internal;

import io.stcp.CloseReason;
import io.stcp.FrameTimeoutException;
import io.stcp.QueueFullException;
import io.stcp.ReadTimeoutException;
import io.stcp.Sender;
import io.stcp.SenderClosedException;
import io.stcp.TlsTruncatedException;
import io.stcp.WriteTimeoutException;
import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.SocketException;
import java.nio.channels.ClosedChannelException;

/** How a connection's loops end: what each failure means ({@link CloseReason}), and closing a sender quietly. */
public final class Ends {
    private Ends() {}

    /**
     * The reason a reader's failure stands for. Causes that only follow a close (a closed channel,
     * an interrupt, a closed sender) say CLOSED: whoever closed recorded the real reason first. An
     * {@link java.io.UncheckedIOException}, the standard way to carry an I/O failure out of code
     * that may not throw one, stands for its cause: a reader that wraps the closed channel of a
     * graceful close says CLOSED, not FAILED (since a graceful close ends the reads at once, that
     * exception reaches the runner before the close has recorded its own reason).
     *
     * @param t what the reader loop threw, or null if it ended because the runner exited
     */
    static CloseReason classify(Throwable t) {
        if (t == null) {
            return CloseReason.CLOSED;
        }
        if (t instanceof java.io.UncheckedIOException u) {
            return classify(u.getCause()); // never null: its constructors require the cause
        }
        if (t instanceof TlsTruncatedException) {
            return CloseReason.PEER_RESET; // TCP ended without TLS close_notify: the stream may be cut short
        }
        if (t instanceof EOFException) {
            return CloseReason.PEER_CLOSED;
        }
        if (t instanceof FrameTimeoutException) {
            return CloseReason.FRAME_TIMEOUT;
        }
        if (t instanceof ReadTimeoutException) {
            return CloseReason.READ_TIMEOUT;
        }
        if (t instanceof WriteTimeoutException) {
            return CloseReason.WRITE_TIMEOUT;
        }
        if (t instanceof QueueFullException) {
            return CloseReason.SLOW_CONSUMER;
        }
        if (t instanceof SenderClosedException || t instanceof ClosedChannelException
                || t instanceof InterruptedException || t instanceof InterruptedIOException) {
            return CloseReason.CLOSED;
        }
        if (t instanceof PollerFailedException) {
            return CloseReason.FAILED; // not the peer's doing
        }
        if (isBroken(t)) {
            return CloseReason.PEER_RESET;
        }
        return t instanceof IOException ? CloseReason.PROTOCOL_ERROR : CloseReason.FAILED;
    }

    /** The reason a send loop's failure stands for: a write's failure is the socket's, not the peer's protocol. */
    public static CloseReason classifySend(Throwable t) {
        if (t instanceof WriteTimeoutException) {
            return CloseReason.WRITE_TIMEOUT;
        }
        if (t instanceof ClosedChannelException || t instanceof InterruptedException
                || t instanceof InterruptedIOException || t instanceof SenderClosedException) {
            return CloseReason.CLOSED;
        }
        return t instanceof IOException && !(t instanceof PollerFailedException) ? CloseReason.PEER_RESET : CloseReason.FAILED;
    }

    /** Messages of a reset, a broken pipe or an abort, matched in part, as platforms word them. */
    private static final String[] RESET = {"reset", "Broken pipe", "aborted"};

    /**
     * Messages, whole as Linux words them, of the other system errors the JDK's channels report as a
     * plain {@link IOException} when the connection broke under a read or write: TCP gave up on an
     * unanswering peer (ETIMEDOUT), or its host or network became unreachable or went down. Whole,
     * so that a reader's own "upstream timed out" is not taken for one.
     */
    private static final String[] GONE = {"Connection timed out", "No route to host", "Network is unreachable",
            "Host is unreachable", "Host is down", "Network is down"};

    /**
     * The socket failed because the connection broke, as the transports report it: the epoll
     * transport throws a {@link SocketException} for each error of a socket call that says so (a
     * reset, a timed-out or unreachable peer...; a plain IOException naming the errno for the
     * others), the JDK's channels a {@link SocketException} for a reset
     * and an {@link IOException} with the system's message for the others — each of exactly that
     * class. A reader's own exceptions are subclasses (a {@link java.net.ConnectException} from a
     * backend it dials is a {@code SocketException}'s: only a reset's message makes one a reset,
     * as before), or plain ones with other messages.
     */
    static boolean isBroken(Throwable t) {
        if (t.getClass() == SocketException.class) {
            return true;
        }
        String m = String.valueOf(t.getMessage());
        if (t instanceof SocketException) {
            return containsAny(m, RESET);
        }
        return t.getClass() == IOException.class && (containsAny(m, RESET) || containsAny(m, GONE));
    }

    private static boolean containsAny(String message, String[] parts) {
        for (String part : parts) {
            if (message.contains(part)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Closes {@code s}, which discards what it holds.
     *
     * @return the messages it discarded
     */
    static int closeSender(Sender s, RealConnection connection) {
        try {
            return s.close();
        } catch (Throwable t) {
            Log.connWarn("conn.sender.failed", connection).addKeyValue("op", "close").setCause(t).log();
            return 0;
        }
    }
}
