package io.stcp.internal;

import io.stcp.AttributeKey;
import io.stcp.BasicMetaInfo;
import io.stcp.CloseReason;
import io.stcp.Connection;
import io.stcp.Durations;
import io.stcp.MetaInfo;
import io.stcp.PeerCredentials;
import io.stcp.ProxyHeader;
import io.stcp.TlsInfo;
import io.stcp.WriteTimeoutException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.time.Instant;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The {@link Connection}: identity and metadata, reads through a {@link ConnectionInput}, writes
 * serialized by {@link #writeLock} with the write timeout, and closing through its
 * {@link ConnectionClose}, the one place where the connection closes (its states are described
 * there).
 */
public final class RealConnection implements Connection {
    private static final AtomicLong IDS = new AtomicLong();
    private static final VarHandle ATTRIBUTES;
    private static final VarHandle BYTES_WRITTEN;

    static {
        try {
            ATTRIBUTES = MethodHandles.lookup().findVarHandle(RealConnection.class, "attributes", Map.class);
            BYTES_WRITTEN = MethodHandles.lookup().findVarHandle(RealConnection.class, "bytesWritten", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final long id = IDS.incrementAndGet();
    private final SocketChannel channel;
    private volatile Transport transport;   // replaced once, by openLayers, before the connection is shared
    private final ConnectionInput input;
    private final ConnectionContext context;
    private final boolean pooled; // the transport tells readiness
    private volatile SocketAddress remoteAddress; // the client's once a PROXY header named it
    private volatile SocketAddress localAddress;
    private volatile MetaInfo metaInfo;
    private volatile ProxyHeader proxyHeader;     // set once, by the PROXY layer, before the connection is shared
    private volatile SocketAddress proxiedBy;
    private volatile PeerCredentials peerCredentials;
    /** The address counted by the server's per-address limits, to release at exit; null if none. */
    volatile InetAddress limitedAddress;
    private volatile Map<AttributeKey<?>, Object> attributes; // see attributes()
    private volatile TlsInfo tls; // set once by the TLS layer, before the connection is shared

    /** The thread running this connection's reader loop, or null; set by the runner. */
    private volatile Thread readerThread;

    private final ReentrantLock writeLock = new ReentrantLock();
    private volatile long writeTimeoutNanos;
    /** nanoTime when the connection was made. */
    private final long openedNanos = System.nanoTime();
    /** nanoTime when the last write completed (or the connection was made); read by write-idle tasks. */
    volatile long lastWriteNanos = openedNanos;
    private long bytesWritten; // guarded by writeLock; read racily for stats (opaque)

    private final ConnectionClose closing = new ConnectionClose(this);

    /**
     * @param channel the socket, or null for a connection in memory (stcp-test)
     * @param pooled the transport tells readiness: the read buffer goes back to the pool while waiting
     * @param transportOf makes the transport; it may keep this connection to call back
     */
    private RealConnection(SocketChannel channel, SocketAddress remoteAddress, SocketAddress localAddress,
                           boolean pooled, ConnectionContext context, Function<RealConnection, Transport> transportOf) {
        this.channel = channel;
        this.context = context;
        this.remoteAddress = remoteAddress;
        this.localAddress = localAddress;
        this.transport = transportOf.apply(this);
        this.pooled = pooled;
        this.input = new ConnectionInput(transport, pooled, context.budget(), context.firstFrameTimeoutNanos(),
                context.frameTimeoutNanos(), closing::inputEnded);
        this.metaInfo = new BasicMetaInfo(remoteAddressText());
        this.writeTimeoutNanos = context.writeTimeoutNanos();
        input.readTimeout(Duration.ofNanos(context.readIdleTimeoutNanos()));
    }

    /**
     * A connection on {@code channel}: non-blocking on {@code readiness} when there is one, else on
     * the JDK's blocking socket.
     *
     * @throws IOException if the channel is no longer usable
     */
    private static RealConnection onSocket(SocketChannel channel, Readiness readiness, String sourceName,
                                           ConnectionContext context) throws IOException {
        // A Unix socket has no socket adaptor, so no read timeouts on the JDK's blocking channel:
        // it waits on a selector instead (PolledTransport), non-blocking.
        Transport polled = readiness == null && UnixSockets.isUnix(channel) ? new PolledTransport(channel) : null;
        return new RealConnection(channel, channel.getRemoteAddress(), channel.getLocalAddress(), readiness != null,
                context, c -> readiness != null ? new ReadinessTransport(channel, readiness, sourceName)
                        : polled != null ? polled : new BlockingTransport(channel, context.sweeper(), c::writeDeadlinePassed));
    }

    /**
     * A connection whose bytes come from and go to {@code transport} instead of a socket: the test
     * kit's ({@code stcp-test}) in-memory peer. {@link #channel()} is not available on it.
     */
    public static RealConnection inMemory(Transport transport, SocketAddress remoteAddress, SocketAddress localAddress) {
        return new RealConnection(null, remoteAddress, localAddress, false, ConnectionContext.standalone(),
                c -> transport);
    }

    /**
     * Wraps a connected blocking channel outside any server, on the transport chosen for the JVM
     * (the native one when available: the channel is then made non-blocking).
     *
     * @throws IllegalArgumentException if the channel is not connected or is non-blocking
     */
    public static RealConnection wrap(SocketChannel channel) {
        try {
            return open(channel, ConnectionContext.standalone());
        } catch (IOException e) {
            throw new UncheckedIOException("channel closed while wrapping it", e);
        }
    }

    /**
     * Wraps an accepted channel for a server: made non-blocking and registered with the context's
     * native source when there is one. If the source cannot watch it (say, the kernel's limit of
     * epoll watches is reached), the connection uses the JDK transport instead and a WARN line
     * says why.
     *
     * @throws IOException if the channel is no longer usable (it is left open)
     */
    static RealConnection open(SocketChannel channel, ConnectionContext context) throws IOException {
        checkBlocking(channel);
        ReadinessSource source = context.source();
        if (source != null) {
            channel.configureBlocking(false);
            Readiness readiness;
            try {
                readiness = source.register(channel);
            } catch (IOException e) {
                channel.configureBlocking(true);
                RealConnection c = onSocket(channel, null, null, context);
                Log.connWarn("conn.transport.fallback", c).addKeyValue("transport", source.name())
                        .addKeyValue("error", e.toString()).log();
                return c;
            }
            try {
                return onSocket(channel, readiness, source.name(), context);
            } catch (IOException | RuntimeException e) {
                readiness.close();
                throw e;
            }
        }
        return onSocket(channel, null, null, context);
    }

    private static void checkBlocking(SocketChannel channel) {
        Objects.requireNonNull(channel, "channel");
        if (!channel.isBlocking()) {
            throw new IllegalArgumentException("channel: non-blocking (expected: a blocking channel)");
        }
        if (!channel.isConnected()) {
            throw new IllegalArgumentException("channel: not connected (expected: a connected channel)");
        }
    }

    /**
     * The stcp connection behind {@code connection}.
     *
     * @throws IllegalArgumentException if it was not made by stcp
     */
    static RealConnection of(Connection connection) {
        if (connection instanceof RealConnection real) {
            return real;
        }
        throw new IllegalArgumentException("connection: a " + connection.getClass().getName()
                + " (expected: one made by stcp, e.g. Connection.of(channel))");
    }

    @Override
    public long id() {
        return id;
    }

    @Override
    public SocketAddress remoteAddress() {
        return remoteAddress;
    }

    @Override
    public String remoteAddressText() {
        return HostPort.format(remoteAddress);
    }

    @Override
    public SocketAddress localAddress() {
        return localAddress;
    }

    /** Sets the local address a Unix socket server's clients connect to (the channel knows the name it was bound under). */
    void localAddress(SocketAddress address) {
        localAddress = address;
    }

    @Override
    public Optional<SocketAddress> proxiedBy() {
        return Optional.ofNullable(proxiedBy);
    }

    @Override
    public Optional<ProxyHeader> proxyHeader() {
        return Optional.ofNullable(proxyHeader);
    }

    /**
     * The PROXY layer read {@code header}: the client's address (if it names one) becomes the
     * remote address and, while the metadata is still the default, the metadata's address.
     */
    void proxied(ProxyHeader header) {
        SocketAddress socketPeer = remoteAddress;
        proxyHeader = header;
        if (header.isLocal()) {
            return;
        }
        proxiedBy = socketPeer;
        SocketAddress client = header.source().orElse(null);
        if (client != null) {
            remoteAddress = client;
            if (metaInfo instanceof BasicMetaInfo) {
                metaInfo = new BasicMetaInfo(HostPort.format(client));
            }
        }
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
        input.channelUsed();
        return channel;
    }

    @Override
    public MetaInfo metaInfo() {
        return metaInfo;
    }

    @Override
    public void metaInfo(MetaInfo metaInfo) {
        this.metaInfo = Objects.requireNonNull(metaInfo, "metaInfo");
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T> T attribute(AttributeKey<T> key) {
        Map<AttributeKey<?>, Object> map = attributes;
        return map == null ? null : (T) map.get(Objects.requireNonNull(key, "key"));
    }

    @Override
    public <T> void attribute(AttributeKey<T> key, T value) {
        Objects.requireNonNull(key, "key");
        if (value == null) {
            Map<AttributeKey<?>, Object> map = attributes;
            if (map != null) {
                map.remove(key);
            }
        } else {
            attributes().put(key, value);
        }
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T> T attributeIfAbsent(AttributeKey<T> key, Supplier<? extends T> initial) {
        Objects.requireNonNull(key, "key");
        return (T) attributes().computeIfAbsent(key, k -> Objects.requireNonNull(initial.get(), "initial value"));
    }

    /** The attribute map, made on first use: a connection that stores nothing pays nothing. */
    private Map<AttributeKey<?>, Object> attributes() {
        Map<AttributeKey<?>, Object> map = attributes;
        if (map == null) {
            map = new ConcurrentHashMap<>(4);
            if (!ATTRIBUTES.compareAndSet(this, null, map)) {
                map = attributes;
            }
        }
        return map;
    }

    /**
     * Whether the read loop may leave no thread behind while there is nothing to read: the
     * transport can call back when input comes (a native transport), so no thread needs to wait.
     */
    boolean canSuspendReads() {
        return pooled;
    }

    /** The transport's name: {@code jdk}, {@code epoll}. */

    public java.util.Optional<TlsInfo> tls() {
        return java.util.Optional.ofNullable(tls);
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
            t = layer.open(t, this, input.firstFrameDeadlineNanos());
        }
        transport = t;
        input.transport(t);
    }

    ConnectionContext context() {
        return context;
    }

    // ---------------------------------------------------------------- reads (reader thread)

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        return input.read(b, off, len);
    }

    @Override
    public int readUntil(byte delimiter, byte[] b, int off, int len) throws IOException {
        return input.readUntil(delimiter, b, off, len);
    }

    @Override
    public void readFully(byte[] b, int off, int len) throws IOException {
        input.readFully(b, off, len);
    }

    @Override
    public byte[] readLine(int maxLength) throws IOException {
        return input.readLine(maxLength);
    }

    @Override
    public byte[] readBytes(int n) throws IOException {
        return input.readBytes(n);
    }

    @Override
    public int readUnsignedByte() throws IOException {
        return input.readUnsignedByte();
    }

    @Override
    public short readShort() throws IOException {
        return input.readShort(true);
    }

    @Override
    public short readShortLE() throws IOException {
        return input.readShort(false);
    }

    @Override
    public int readInt() throws IOException {
        return input.readInt(true);
    }

    @Override
    public int readIntLE() throws IOException {
        return input.readInt(false);
    }

    @Override
    public long readLong() throws IOException {
        return input.readLong(true);
    }

    @Override
    public long readLongLE() throws IOException {
        return input.readLong(false);
    }

    @Override
    public int buffered() {
        return input.buffered();
    }

    @Override
    public long bytesRead() {
        return input.bytesRead();
    }

    @Override
    public void readTimeout(Duration timeout) {
        input.readTimeout(timeout);
    }

    @Override
    public Duration readTimeout() {
        return input.readTimeout();
    }

    @Override
    public void readDeadline(Instant deadline) {
        input.readDeadline(deadline);
    }

    @Override
    public boolean isReaderThread() {
        return readerThread == Thread.currentThread();
    }

    /** Called by the runner: {@code thread} reads this connection from now on (null: nobody does). */
    void readerThread(Thread thread) {
        readerThread = thread;
    }

    // ---------------------------------------------------------------- writes (any thread)

    @Override
    public void write(ByteBuffer[] buffers, int off, int len) throws IOException {
        writeLock.lock();
        long before = remaining(buffers, off, len);
        try {
            long timeout = writeTimeoutNanos;
            transport.write(buffers, off, len, timeout == 0 ? 0 : Nanos.deadline(System.nanoTime(), timeout));
        } catch (WriteTimeoutException e) {
            WriteTimeoutException timedOut = new WriteTimeoutException("write blocked longer than the write timeout of "
                    + Durations.format(writeTimeout()) + "; connection closed");
            boolean reported = closeReason() == CloseReason.WRITE_TIMEOUT; // by writeDeadlinePassed, on the JDK transport
            close(CloseReason.WRITE_TIMEOUT, timedOut);
            if (!reported) {
                JfrEvents.writeTimeout(this, writeTimeoutNanos);
            }
            throw timedOut;
        } finally {
            BYTES_WRITTEN.setOpaque(this, bytesWritten + before - remaining(buffers, off, len));
            lastWriteNanos = System.nanoTime();
            writeLock.unlock();
        }
    }

    private static long remaining(ByteBuffer[] buffers, int off, int len) {
        long n = 0;
        for (int i = off; i < off + len; i++) {
            n += buffers[i].remaining();
        }
        return n;
    }

    /** {@link System#nanoTime()} when the connection was made. */
    long openedNanos() {
        return openedNanos;
    }

    /** Bytes written to the peer so far; any thread (a monitoring read, possibly a moment behind). */
    long bytesWritten() {
        return (long) BYTES_WRITTEN.getOpaque(this);
    }

    /** The JDK transport's sweeper found a write blocked past its deadline: close, saying why. */
    private void writeDeadlinePassed() {
        close(CloseReason.WRITE_TIMEOUT, new WriteTimeoutException("write blocked longer than the write timeout of "
                + Durations.format(writeTimeout()) + "; connection closed"));
        JfrEvents.writeTimeout(this, writeTimeoutNanos);
    }

    @Override
    public Duration writeTimeout() {
        return Duration.ofNanos(writeTimeoutNanos);
    }

    @Override
    public void writeTimeout(Duration timeout) {
        writeTimeoutNanos = Nanos.timeout(timeout);
    }

    @Override
    public void shutdownOutput() throws IOException {
        writeLock.lock();
        try {
            transport.shutdownOutput();
        } finally {
            writeLock.unlock();
        }
    }

    @Override
    public void onWriteIdle(Duration interval, Runnable action) {
        long nanos = Nanos.timeout(interval);
        if (nanos == 0 && (interval.isNegative() || interval.isZero())) {
            throw new IllegalArgumentException("interval: " + Durations.format(interval) + " (expected: > 0)");
        }
        WriteIdleTask task = new WriteIdleTask(this, nanos == 0 ? Nanos.FOREVER : nanos, Objects.requireNonNull(action));
        context.sweeper().add(task, task.tickNanos());
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

    Transport transport() {
        return transport;
    }

    /** The thread reading this connection, or null. */
    Thread readerThread() {
        return readerThread;
    }

    @Override
    public String toString() {
        return "Connection[id=" + id + ", remote=" + HostPort.format(remoteAddress) + "]";
    }
}
