package io.stcp;

/**
 * Why a connection ended, decided once, by the first cause that is known (see
 * {@link Connection#closeReason()}). The reason decides what happens to the replies still queued
 * — written first ({@link #flushes()}) or discarded and counted — and how loudly the end is logged
 * ({@link #isFailure()}: WARN, at most a few lines per interval under attack; otherwise DEBUG).
 */
public enum CloseReason {
    /** The peer ended its output (end of stream). Queued replies are written first. */
    PEER_CLOSED(true, false),
    /** The peer reset the connection or it broke; nothing more can be written. */
    PEER_RESET(false, false),
    /**
     * Closed by the application: {@link Sender#close()}, {@link Connection#close()}, {@link ConnectionRunner#exit()}
     * (what is still queued is discarded); also {@link Sender#closeAfterFlush(java.time.Duration)},
     * which writes what was queued before it closes.
     */
    CLOSED(false, false),
    /** The server closed ({@link TcpServer#close()}) or shut down ({@link TcpServer#shutdown}: replies written first). */
    SHUTDOWN(true, false),
    /** No data within the read timeout (an idle peer), or past a read deadline. Queued replies are written first. */
    READ_TIMEOUT(true, false),
    /** A frame, or the first frame, was not completed in time (a peer trickling bytes: slowloris). */
    FRAME_TIMEOUT(true, true),
    /** A write blocked past the write timeout: the peer stopped reading. */
    WRITE_TIMEOUT(false, true),
    /** The peer fell too far behind: the send queue overflowed under its policy. */
    SLOW_CONSUMER(false, true),
    /**
     * The reader failed with an I/O error of its own: a protocol violation ({@code FrameTooLongException},
     * {@code CorruptFrameException}, {@link java.net.ProtocolException}, {@link ReaderStalledException} …).
     * Replies accepted before it are written first.
     */
    PROTOCOL_ERROR(true, true),
    /**
     * Unexpected: a reader, hook or sender threw something other than an I/O error (a bug), or the
     * poller watching the socket failed (the reader got a {@code PollerFailedException}), or the
     * connection could not be started once open (its thread, or what the server makes for it
     * before, out of memory; no hook ran, the socket is closed at once, and the server logs
     * {@code server.accept.handler.failed}): it was counted accepted, and ends so.
     */
    FAILED(true, true),
    /**
     * Refused on the connection's thread before it started: by its PROXY header or, for a proxied
     * client, a limit ({@link RejectReason}). No sender was made and no hook ran; the server counts
     * and logs it as refused ({@link TcpServer#rejectedCount(RejectReason)}), not as a connection
     * accepted nor one that ended ({@link ServerStats#closed()} has no such end).
     */
    REJECTED(false, false);

    private final boolean flushes;
    private final boolean failure;

    CloseReason(boolean flushes, boolean failure) {
        this.flushes = flushes;
        this.failure = failure;
    }

    /**
     * Whether the replies still queued are written before the socket closes (bounded by the write
     * timeout, or 5 s without one). Otherwise they are discarded and counted. A connection that is
     * already closed when its reader ends (say, by {@link TcpServer#close()}) cannot flush.
     */
    public boolean flushes() {
        return flushes;
    }

    /** Whether this end is a failure a user must see: logged at WARN (rate-limited), else DEBUG. */
    public boolean isFailure() {
        return failure;
    }
}
