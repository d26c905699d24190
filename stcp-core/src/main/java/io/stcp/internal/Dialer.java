package io.stcp.internal;

import io.stcp.ClientConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.net.UnknownHostException;
import java.nio.channels.SocketChannel;

/**
 * Makes one connected, blocking channel for a {@link RealTcpClient} attempt: resolves the host
 * again (through {@link Resolver}), binds the local address if one is set, and connects within
 * the connect timeout. The one place that knows the kind of socket: a Unix-domain dialler for
 * {@code unix:} addresses belongs next to this one.
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
    private final HostPort target;
    private final Resolver resolver;

    Dialer(ClientConfig config, Resolver resolver) {
        this.config = config;
        this.target = HostPort.parse(config.address());
        this.resolver = resolver;
    }

    /** Resolves and connects; an attempt that takes longer than the connect timeout fails with a SocketTimeoutException. */
    SocketChannel dial() throws IOException {
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
}
