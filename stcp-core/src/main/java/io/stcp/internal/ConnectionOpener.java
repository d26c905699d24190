package io.stcp.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.SocketAddress;
import java.nio.channels.SocketChannel;
import java.util.Objects;

/**
 * Makes {@link RealConnection}s: picks the transport for a channel — the context's native
 * readiness source when there is one (the channel becomes non-blocking), else the JDK's blocking
 * socket, or a selector for a Unix socket — falling back to the JDK's when the native source
 * refuses the channel; or wraps a test's in-memory transport.
 */
public final class ConnectionOpener {

    private ConnectionOpener() {}

    /**
     * A connection on {@code channel}: non-blocking on {@code readiness} when there is one, else on
     * the JDK's blocking socket.
     *
     * @throws IOException if the channel is no longer usable
     */
    private static RealConnection onSocket(SocketChannel channel, Readiness readiness, ReadinessSource source,
                                           ConnectionContext context) throws IOException {
        SocketCalls calls = readiness != null ? source.socketCalls() : null;
        int fd = calls != null ? calls.fd(readiness) : -1;
        // A Unix socket has no socket adaptor, so no read timeouts on the JDK's blocking channel:
        // it waits on a selector instead (PolledTransport), non-blocking.
        Transport polled = readiness == null && UnixSockets.isUnix(channel) ? new PolledTransport(channel) : null;
        return new RealConnection(channel, channel.getRemoteAddress(), channel.getLocalAddress(), readiness != null,
                context, c -> readiness != null ? new ReadinessTransport(channel, readiness, source.name(), calls, fd)
                        : polled != null ? polled : new BlockingTransport(channel, context.sweeper(), () -> c.output().deadlinePassed()));
    }

    /** As {@link #inMemory(Transport, SocketAddress, SocketAddress, ConnectionContext)}, outside any server. */
    public static RealConnection inMemory(Transport transport, SocketAddress remoteAddress, SocketAddress localAddress) {
        return inMemory(transport, remoteAddress, localAddress, ConnectionContext.standalone());
    }

    /**
     * A connection whose bytes come from and go to {@code transport} instead of a socket: the test
     * kit's ({@code stcp-test}) in-memory peer, with {@code context}'s timeouts and budget
     * ({@link ConnectionContext#standalone()} or {@link ConnectionContext#inMemory}).
     * {@link RealConnection#channel()} is not available on it.
     */
    public static RealConnection inMemory(Transport transport, SocketAddress remoteAddress, SocketAddress localAddress,
                                          ConnectionContext context) {
        return new RealConnection(null, remoteAddress, localAddress, false, context, c -> transport);
    }

    /**
     * Wraps a connected blocking channel outside any server, on the transport chosen for the JVM
     * (the native one when available: the channel is then made non-blocking).
     *
     * @throws IllegalArgumentException if the channel is not connected or is non-blocking
     */
    public static RealConnection wrap(SocketChannel channel) {
        try {
            return open(channel, ConnectionContext.standalone(), true);
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
        return open(channel, context, false);
    }

    /**
     * @param shared the application holds the channel too, and may close it: a native source
     *     works on a duplicate of its descriptor ({@link ReadinessSource#registerShared})
     */
    private static RealConnection open(SocketChannel channel, ConnectionContext context, boolean shared)
            throws IOException {
        checkBlocking(channel);
        ReadinessSource source = context.source();
        if (source != null) {
            channel.configureBlocking(false);
            Readiness readiness;
            try {
                readiness = shared ? source.registerShared(channel) : source.register(channel);
            } catch (IOException e) {
                channel.configureBlocking(true);
                RealConnection c = onSocket(channel, null, null, context);
                Log.connWarn("conn.transport.fallback", c).addKeyValue("transport", source.name())
                        .addKeyValue("error", e.toString()).log();
                return c;
            }
            try {
                return onSocket(channel, readiness, source, context);
            } catch (IOException | RuntimeException | Error e) { // out of memory too: the registration is not left behind
                readiness.close(); // forgotten before the caller closes the channel and frees its number
                readiness.closeDescriptor(); // a duplicate, if the source made one: no transport made calls on it
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
}
