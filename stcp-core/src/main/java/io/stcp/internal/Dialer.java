package io.stcp.internal;

import io.stcp.ClientConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.net.UnknownHostException;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/**
 * Makes one connected, blocking channel for a {@link RealTcpClient} attempt. The one place that
 * knows the kind of socket:
 *
 * <ul>
 *   <li>TCP ({@code host:port}): resolves the host again (through {@link Resolver}), binds the
 *       local address if one is set, and connects within the connect timeout.
 *   <li>Unix domain ({@code unix:PATH}): connects without blocking — the JDK's blocking connect on
 *       a Unix socket has no timeout and waits without bound while the listener's backlog is full
 *       — so the attempt succeeds or fails at once (no such file, refused, backlog full), then
 *       makes the channel blocking as a server's accepted one is.
 * </ul>
 *
 * <p>An interrupt (the client's close) ends a connect in progress: the channel is closed.
 */
final class Dialer {

    /** Resolves the host on every attempt; a seam for tests. */
    @FunctionalInterface
    interface Resolver {
        InetSocketAddress resolve(String host, int port) throws IOException;

        /** The JVM's resolver (its cache, {@code networkaddress.cache.ttl}, applies); an empty host is the loopback address. */
        Resolver DNS = (host, port) -> {
            InetSocketAddress a = host.isEmpty() ? new InetSocketAddress(InetAddress.getLoopbackAddress(), port)
                    : new InetSocketAddress(host, port);
            if (a.isUnresolved()) {
                throw new UnknownHostException("unknown host \"" + host + "\"");
            }
            return a;
        };
    }

    private final ClientConfig config;
    private final HostPort target;   // null for a Unix socket
    private final Path unixPath;     // null for TCP
    private final Resolver resolver;

    Dialer(ClientConfig config, Resolver resolver) {
        this.config = config;
        boolean unix = HostPort.isUnix(config.address());
        this.unixPath = unix ? HostPort.unixPath(config.address()) : null;
        this.target = unix ? null : HostPort.parse(config.address());
        this.resolver = resolver;
    }

    /**
     * Connects once: a TCP attempt that takes longer than the connect timeout fails with a
     * SocketTimeoutException.
     */
    SocketChannel dial() throws IOException {
        return unixPath != null ? dialUnix(unixPath) : dialTcp();
    }

    private SocketChannel dialTcp() throws IOException {
        InetSocketAddress remote = resolver.resolve(target.host(), target.port());
        SocketChannel ch = SocketChannel.open();
        try {
            if (config.localAddress() != null) {
                ch.bind(config.localAddress());
            }
            ch.setOption(StandardSocketOptions.TCP_NODELAY, config.tcpNoDelay());
            long timeoutMillis = config.connectTimeout().isZero() ? 0
                    : Math.max(1, Math.min(Integer.MAX_VALUE, config.connectTimeout().toMillis()));
            ch.socket().connect(remote, (int) timeoutMillis); // an interrupt (close) closes the channel
            return ch;
        } catch (IOException | RuntimeException | Error e) {
            ch.close();
            throw e;
        }
    }

    private static SocketChannel dialUnix(Path path) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.configureBlocking(false);
            boolean connected = ch.connect(UnixDomainSocketAddress.of(path));
            ch.configureBlocking(true);
            if (!connected) {
                ch.finishConnect(); // not on Linux, whose Unix connects never pend; elsewhere, an interrupt ends it
            }
            return ch;
        } catch (IOException | RuntimeException | Error e) {
            ch.close();
            throw e;
        }
    }
}
