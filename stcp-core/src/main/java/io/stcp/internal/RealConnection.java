package io.stcp.internal;

import io.stcp.AttributeKey;
import io.stcp.CloseReason;
import io.stcp.Connection;
import io.stcp.MetaInfo;
import io.stcp.PeerCredentials;
import io.stcp.ProxyHeader;
import io.stcp.TlsInfo;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.InetAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * The {@link Connection}: identity and metadata, reads through a {@link ConnectionInput}, writes
 * through a {@link ConnectionOutput}, and closing through its
 * {@link ConnectionClose}, the one place where the connection closes (its states are described
 * there).
 */
public final class RealConnection implements Connection {
    private static final AtomicLong IDS = new AtomicLong();
    private static final VarHandle ATTRIBUTES = Fields.handle(MethodHandles.lookup(), "attributes", Attributes.class);
    private final long id = IDS.incrementAndGet();
    private final SocketChannel channel;
    private volatile Transport transport;   // replaced once, by openLayers, before the connection is shared
    private final ConnectionInput input;
    private final ConnectionContext context;
    private final boolean pooled; // the transport tells readiness
    private final ConnectionEnds ends;
    private volatile PeerCredentials peerCredentials;
    /** The address counted by the server's per-address limits, to release at exit; null if none. */
    volatile InetAddress limitedAddress;
    /**
     * Counted in the server's {@code acceptedCount()} (by its {@code Admission}): then, and only
     * then, its end is counted in {@code stats().closed()}. Set before the connection starts, or by
     * the PROXY layer once the header shows a client; a health check is never set.
     */
    volatile boolean accepted;
    /**
     * A proxy's health check (set by the PROXY layer, which counts it): never a connection of the
     * server's, so its end has no {@code conn.exit} line and no {@code stcp.ConnectionExit} event,
     * as it had no start.
     */
    volatile boolean healthCheck;
    private volatile Attributes attributes; // made by the first store: see attributes()
    private volatile TlsInfo tls; // set once by the TLS layer, before the connection is shared

    /** The thread running this connection's reader loop, or null; set by the runner. */
    private volatile Thread readerThread;
    /**
     * A runner reads this connection, from its start to its end: no thread but its reader thread
     * may read it then ({@link #beginRead()}), not even while the loop is suspended and no
     * thread is the reader. Set by the runner.
     */
    private volatile boolean runnerReads;

    /** nanoTime when the connection was made. */
    private final long openedNanos = System.nanoTime();
    private final ConnectionOutput output;

    private final ConnectionClose closing = new ConnectionClose(this);
    /** Which application thread reads, while no runner does; the graceful close's linger takes it. */
    private final ReadClaim claim = new ReadClaim();

    /**
     * @param channel the socket, or null for a connection in memory (stcp-test)
     * @param pooled the transport tells readiness: the read buffer goes back to the pool while waiting
     * @param transportOf makes the transport; it may keep this connection to call back
     */
    RealConnection(SocketChannel channel, SocketAddress remoteAddress, SocketAddress localAddress,
                           boolean pooled, ConnectionContext context, Function<RealConnection, Transport> transportOf) {
        this.channel = channel;
        this.context = context;
        this.ends = new ConnectionEnds(remoteAddress, localAddress);
        this.transport = transportOf.apply(this);
        this.pooled = pooled;
        this.input = new ConnectionInput(transport, pooled, context.budget(), context.firstFrameTimeoutNanos(),
                context.frameTimeoutNanos(), closing);
        this.output = new ConnectionOutput(this, transport, context.writeTimeoutNanos());
        input.deadlines().readTimeout(Duration.ofNanos(context.readIdleTimeoutNanos()));
        transport.onWriteWait(this::writeWaits);
    }

    /**
     * A write of this connection's is about to wait for room ({@link WriteWaits}): on its reader
     * thread, the reader gives back the read buffers that the bytes not yet written do not need
     * ({@link ConnectionInput#writeWaits}).
     */
    private void writeWaits(ByteBuffer[] unwritten, int off, int end) {
        if (isReaderThread()) {
            input.writeWaits(unwritten, off, end);
        }
    }

    @Override
    public long id() {
        return id;
    }

    @Override
    public SocketAddress remoteAddress() {
        return ends.remote();
    }

    @Override
    public String remoteAddressText() {
        return HostPort.format(ends.remote());
    }

    @Override
    public SocketAddress localAddress() {
        return ends.local();
    }

    @Override
    public Optional<SocketAddress> proxiedBy() {
        return Optional.ofNullable(ends.proxiedBy());
    }

    @Override
    public Optional<ProxyHeader> proxyHeader() {
        return Optional.ofNullable(ends.proxyHeader());
    }

    /** Who is at each end: the PROXY layer and the Unix socket server correct it here. */
    ConnectionEnds ends() {
        return ends;
    }

    @Override
    public Optional<PeerCredentials> peerCredentials() {
        PeerCredentials c = peerCredentials;
        if (c == null && channel != null && UnixSockets.isUnix(channel)) {
            c = UnixSockets.peerCredentials(channel);
            peerCredentials = c;
        }
        return Optional.ofNullable(c);
    }

    @Override
    public SocketChannel channel() {
        if (channel == null) {
            throw new UnsupportedOperationException("a connection in memory has no socket channel");
        }
        input.channelUsed(isReaderThread());
        return closing.channel(channel);
    }

    @Override
    public MetaInfo metaInfo() {
        return ends.metaInfo();
    }

    @Override
    public void metaInfo(MetaInfo metaInfo) {
        ends.metaInfo(metaInfo);
    }

    @Override
    public <T> T attribute(AttributeKey<T> key) {
        Attributes a = attributes;
        if (a == null) {
            Objects.requireNonNull(key, "key");
            return null;
        }
        return a.get(key);
    }

    @Override
    public <T> void attribute(AttributeKey<T> key, T value) {
        if (value == null && attributes == null) {
            Objects.requireNonNull(key, "key"); // nothing stored, nothing to remove
            return;
        }
        attributes().set(key, value);
    }

    @Override
    public <T> T attributeIfAbsent(AttributeKey<T> key, Supplier<? extends T> initial) {
        return attributes().ifAbsent(key, initial);
    }

    /** The attributes, made now if none were stored yet. */
    private Attributes attributes() {
        Attributes a = attributes;
        if (a == null) {
            a = new Attributes();
            if (!ATTRIBUTES.compareAndSet(this, null, a)) {
                a = attributes;
            }
        }
        return a;
    }

    /**
     * Whether the read loop may leave no thread behind while there is nothing to read: the
     * transport can call back when input comes (a native transport), so no thread needs to wait.
     */
    boolean canSuspendReads() {
        return pooled;
    }

    @Override
    public Optional<TlsInfo> tls() {
        return Optional.ofNullable(tls);
    }

    /** Called by the TLS layer once its handshake is done. */
    void tls(TlsInfo info) {
        tls = info;
    }

    /** The transport's name: {@code jdk}, {@code epoll}, with {@code +tls} over TLS. */
    public String transportName() {
        return transport.name();
    }

    ConnectionInput input() {
        return input;
    }

    /**
     * Opens the context's {@link TransportLayer}s over the socket, in order; on the connection's
     * thread, before the sender factory and the hooks run.
     */
    void openLayers() throws IOException {
        List<TransportLayer> layers = context.layers();
        if (layers.isEmpty()) {
            return;
        }
        Transport t = transport;
        for (TransportLayer layer : layers) {
            t = layer.open(t, this, input.deadlines().firstFrameNanos());
        }
        transport = t;
        t.onWriteWait(this::writeWaits);
        input.transport(t);
        output.transport(t);
    }

    ConnectionContext context() {
        return context;
    }

    // ---------------------------------------------------------------- reads (reader thread)

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        boolean claimed = beginRead();
        try {
            return input.read(b, off, len);
        } finally {
            endRead(claimed);
        }
    }

    @Override
    public int readUntil(byte delimiter, byte[] b, int off, int len) throws IOException {
        boolean claimed = beginRead();
        try {
            return input.readUntil(delimiter, b, off, len);
        } finally {
            endRead(claimed);
        }
    }

    @Override
    public void readFully(byte[] b, int off, int len) throws IOException {
        boolean claimed = beginRead();
        try {
            input.readFully(b, off, len);
        } finally {
            endRead(claimed);
        }
    }

    @Override
    public byte[] readLine(int maxLength) throws IOException {
        boolean claimed = beginRead();
        try {
            return LineRead.read(this, maxLength);
        } finally {
            endRead(claimed);
        }
    }

    @Override
    public byte[] readBytes(int n) throws IOException {
        boolean claimed = beginRead();
        try {
            return input.readBytes(n);
        } finally {
            endRead(claimed);
        }
    }

    @Override
    public byte[] readBytes(byte[] prefix, int n) throws IOException {
        boolean claimed = beginRead();
        try {
            return input.readBytes(prefix, n);
        } finally {
            endRead(claimed);
        }
    }

    @Override
    public int readUnsignedByte() throws IOException {
        boolean claimed = beginRead();
        try {
            return input.readUnsignedByte();
        } finally {
            endRead(claimed);
        }
    }

    @Override
    public short readShort() throws IOException {
        boolean claimed = beginRead();
        try {
            return input.readShort(true);
        } finally {
            endRead(claimed);
        }
    }

    @Override
    public short readShortLE() throws IOException {
        boolean claimed = beginRead();
        try {
            return input.readShort(false);
        } finally {
            endRead(claimed);
        }
    }

    @Override
    public int readInt() throws IOException {
        boolean claimed = beginRead();
        try {
            return input.readInt(true);
        } finally {
            endRead(claimed);
        }
    }

    @Override
    public int readIntLE() throws IOException {
        boolean claimed = beginRead();
        try {
            return input.readInt(false);
        } finally {
            endRead(claimed);
        }
    }

    @Override
    public long readLong() throws IOException {
        boolean claimed = beginRead();
        try {
            return input.readLong(true);
        } finally {
            endRead(claimed);
        }
    }

    @Override
    public long readLongLE() throws IOException {
        boolean claimed = beginRead();
        try {
            return input.readLong(false);
        } finally {
            endRead(claimed);
        }
    }

    /** See {@link ConnectionInput#lendBuffered}; reader thread only. */
    public @Nullable ByteBuffer lendBuffered(byte[] header, int n) {
        return input.lendBuffered(header, n);
    }

    /** See {@link ConnectionInput#lendingEnded}; reader thread only. */
    public void lendingEnded() {
        input.lendingEnded();
    }

    /** See {@link ConnectionInput#readDirect}; reader thread only. */
    public @Nullable DirectMessage readDirect(DirectChunks pool, byte[] header, int n) throws IOException {
        return input.readDirect(pool, header, n);
    }

    /**
     * The reader gives up the large value it read last, if any ({@link ConnectionInput#giveUp}):
     * a relay's body, once its put has returned; reader thread only.
     */
    public void giveUpValue() {
        input.giveUp();
    }

    /** Moves the next {@code n} bytes, all buffered (at most {@link #buffered()}), into {@code dst}; reader thread only. */
    public void takeBuffered(ByteBuffer dst, int n) {
        input.takeBuffered(dst, n);
    }

    @Override
    public int buffered() {
        return input.buffered();
    }

    @Override
    public boolean inputWaiting() {
        return input.inputWaiting();
    }

    @Override
    public long bytesRead() {
        return input.bytesRead();
    }

    @Override
    public void readTimeout(Duration timeout) {
        input.deadlines().readTimeout(Objects.requireNonNull(timeout, "timeout")); // not "none": that is zero
    }

    @Override
    public Duration readTimeout() {
        return input.deadlines().readTimeout();
    }

    @Override
    public void readDeadline(@Nullable Instant deadline) {
        input.deadlines().readDeadline(deadline);
    }

    @Override
    public boolean isReaderThread() {
        return readerThread == Thread.currentThread();
    }

    /** Called by the runner: {@code thread} reads this connection from now on (null: nobody does). */
    void readerThread(Thread thread) {
        readerThread = thread;
    }

    /**
     * Called by the runner: it reads this connection from now on, at its start; no more, at its end.
     *
     * @throws IllegalStateException at its start, if an application thread reads the connection
     *     ({@link ReadClaim#takeForRunner}): nothing changed
     */
    void runnerReads(boolean reads) {
        if (reads) {
            claim.takeForRunner(this);
        }
        runnerReads = reads;
        if (!reads) {
            claim.runnerEnded();
        }
    }

    /** Whether a runner reads this connection now: from its start to its end. */
    boolean runnerReads() {
        return runnerReads;
    }

    /**
     * Before a read: refuses it on any thread but the reader thread while a runner reads this
     * connection, and on a connection no runner reads ({@link Connection#of} before its runner
     * starts, or with none), claims its input for this thread until the read returns
     * ({@link ReadClaim}: another thread's read meanwhile fails at once). A read on another thread
     * while a runner reads did not fail by itself: on the JDK transport it waited for the channel's
     * read lock behind the reader's reads, where no read timeout reaches, for as long as the reader
     * kept reading; on epoll it waited for input that the reader's loop then took, never woken; or
     * it took bytes meant for the reader; and two threads reading frames at once tore them apart
     * (one buffer, unsynchronized), failing the connection. On the reader thread this costs one
     * compare ({@code Thread.currentThread()} is an intrinsic) and {@link #endRead} one test of a
     * local: no atomic, which only reads with no reader thread pay.
     *
     * @return whether this read claimed the input: hand it to {@link #endRead} when it returns
     */
    boolean beginRead() throws ClosedChannelException {
        if (readerThread == Thread.currentThread()) {
            return false;
        }
        return claimInput(); // out of line: the check stays small enough to inline into every read
    }

    private boolean claimInput() throws ClosedChannelException {
        if (runnerReads) {
            throw notTheReader();
        }
        if (!claim.claim(this)) {
            return false; // a read made of reads: the outermost one claimed the input
        }
        input.beginApplicationRead();
        return true;
    }

    /** The read begun with {@link #beginRead()} returns. */
    void endRead(boolean claimed) {
        if (claimed) {
            claim.release();
        }
    }

    /**
     * A graceful close's linger on this thread takes the input of a connection no runner reads
     * ({@link #runnerReads()} false), for good, to read and drop the peer's input itself
     * ({@link ReadClaim#takeForClose}): at once, or once the application's read under way ends.
     *
     * @param deadlineNanos not 0
     * @param quiet the close's looks at that read's wait
     * @return true if taken; false if the application's read under way waits for input that the
     *     peer does not send — its next value, nothing unread (the close closes now, as it did), or
     *     the rest of one, nothing having come for a while ({@link PeerQuiet}) — or the deadline
     *     passed meanwhile
     */
    boolean takeInputToClose(long deadlineNanos, PeerQuiet quiet) {
        return claim.takeForClose(deadlineNanos, () -> quiet.closeBy(input.awaiting(), deadlineNanos));
    }

    /**
     * A read began a wait for input after a graceful close began: a close waiting in
     * {@link #takeInputToClose} for it looks again, and closes now if the peer has sent nothing.
     */
    void readWaitsWhileClosing() {
        claim.wakeCloser();
    }

    IllegalStateException notTheReader() {
        return new IllegalStateException("a read of connection " + id + " on thread \"" + Thread.currentThread().getName()
                + "\", not its reader's: a connection is read by one thread, the one that calls its ConnectionReader"
                + " (and runs its start hooks). Read there, and hand what was read to other threads, not the connection");
    }

    // ---------------------------------------------------------------- writes (any thread)

    @Override
    public void write(ByteBuffer[] buffers, int off, int len) throws IOException {
        output.write(buffers, off, len);
    }

    /** {@link #write(ByteBuffer[], int, int)} of buffers the caller owns: see {@link Transport#writeOwned}. */
    void writeOwned(ByteBuffer[] buffers, int off, int len) throws IOException {
        output.writeOwned(buffers, off, len);
    }

    @Override
    public void write(byte[] bytes, int off, int len) throws IOException {
        output.write(bytes, off, len);
    }

    /** {@link System#nanoTime()} when the connection was made. */
    long openedNanos() {
        return openedNanos;
    }

    /** Bytes written to the peer so far; any thread (a monitoring read, possibly a moment behind). */
    long bytesWritten() {
        return output.bytesWritten();
    }

    @Override
    public Duration writeTimeout() {
        return output.timeout();
    }

    @Override
    public void writeTimeout(Duration timeout) {
        output.timeout(Objects.requireNonNull(timeout, "timeout")); // not "none": that is zero
    }

    @Override
    public void shutdownOutput() throws IOException {
        output.shutdownOutput(0);
    }

    /** As {@link #shutdownOutput()}, for a graceful close that ends at {@code deadlineNanos} (0: none). */
    void shutdownOutput(long deadlineNanos) throws IOException {
        output.shutdownOutput(deadlineNanos);
    }

    @Override
    public void onWriteIdle(Duration interval, Runnable action) {
        output.onWriteIdle(interval, action);
    }

    // ---------------------------------------------------------------- lifecycle (any thread)

    @Override
    public boolean isOpen() {
        return !closing.isClosed() && transport.isOpen();
    }

    @Override
    public CloseReason closeReason() {
        return closing.reason();
    }

    @Override
    public Throwable closeCause() {
        return closing.cause();
    }

    /**
     * Records why the connection ends, unless a reason is recorded already.
     *
     * @return the reason in force: {@code r}, or the one recorded before
     */
    CloseReason recordEnd(CloseReason r, Throwable why) {
        return closing.recordEnd(r, why);
    }

    /** See {@link ConnectionClose#recordOutsideEnd}. */
    CloseReason recordOutsideEnd(CloseReason r) {
        return closing.recordOutsideEnd(r);
    }

    @Override
    public void close(CloseReason r) {
        closing.close(r, null);
    }

    void close(CloseReason r, Throwable why) {
        closing.close(r, why);
    }

    @Override
    public int closeGracefully(Duration timeout, Drain drain) {
        return closing.closeGracefully(timeout, drain);
    }

    /** See {@link ConnectionClose#awaitGracefulClose()}; the reader thread, at its end. */
    void awaitGracefulClose() {
        closing.awaitGracefulClose();
    }

    Transport transport() {
        return transport;
    }

    ConnectionOutput output() {
        return output;
    }

    /** The thread reading this connection, or null. */
    Thread readerThread() {
        return readerThread;
    }

    @Override
    public String toString() {
        return "Connection[id=" + id + ", remote=" + remoteAddressText() + "]";
    }
}
