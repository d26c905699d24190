package io.stcp.internal;

import io.stcp.ServerConfig;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.net.UnknownHostException;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;

/**
 * A server's listening socket: TCP on {@link ServerConfig#address()} (SO_REUSEADDR, and
 * SO_REUSEPORT with {@link ServerConfig#reusePort()}), or a Unix domain socket for a
 * {@code unix:PATH} address.
 *
 * <p><b>Lifecycle.</b> {@link #open} binds it, or throws with nothing left bound;
 * {@link #close()} closes it and removes a Unix socket's file (if it is still the one created).
 * The server calls both under its lock.
 */
final class ServerListener {
    private final ServerSocketChannel channel;
    private final UnixSockets.Listener unix; // null for TCP
    private final SocketAddress address;

    /** A listener on {@code channel}, bound already: {@link #open} makes them (package-private for tests). */
    ServerListener(ServerSocketChannel channel, UnixSockets.Listener unix, SocketAddress address) {
        this.channel = channel;
        this.unix = unix;
        this.address = address;
    }

    /**
     * Listens on {@code config}'s address.
     *
     * @throws BindException naming the address if it cannot be bound (the cause says why)
     * @throws IOException if the address bound cannot be read
     */
    static ServerListener open(ServerConfig config) throws IOException {
        return open(config, MigrateCheck.SYSCTL);
    }

    /**
     * As {@link #open(ServerConfig)}, reading {@code net.ipv4.tcp_migrate_req} from
     * {@code migrateSysctl} (package-private for tests).
     */
    static ServerListener open(ServerConfig config, Path migrateSysctl) throws IOException {
        ServerSocketChannel ch;
        UnixSockets.Listener unix = null;
        try {
            if (HostPort.isUnix(config.address())) {
                unix = UnixSockets.listen(HostPort.unixPath(config.address()), config.effectiveBacklog(),
                        config.unixSocketPermissions(), config.reusePort());
                ch = unix.channel();
            } else {
                ch = listenTcp(config);
            }
        } catch (IOException | RuntimeException e) {
            BindException be = new BindException("cannot listen on \"" + config.address() + "\": " + e.getMessage());
            be.initCause(e);
            throw be;
        }
        try {
            SocketAddress bound = unix != null ? UnixDomainSocketAddress.of(unix.path()) : ch.getLocalAddress();
            if (unix == null && config.reusePort()) {
                MigrateCheck.warnIfOff(bound, migrateSysctl);
            }
            return new ServerListener(ch, unix, bound);
        } catch (IOException | RuntimeException | Error e) {
            close(ch, unix);
            throw e;
        }
    }

    /** A TCP listener bound to the configured address, with SO_REUSEPORT if asked. */
    private static ServerSocketChannel listenTcp(ServerConfig config) throws IOException {
        InetSocketAddress bindAddress = HostPort.parse(config.address()).toBindAddress();
        ServerSocketChannel ch = ServerSocketChannel.open();
        try {
            if (bindAddress.isUnresolved()) {
                throw new UnknownHostException("unknown host \"" + bindAddress.getHostString() + "\"");
            }
            ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            if (config.reusePort()) {
                if (!ch.supportedOptions().contains(StandardSocketOptions.SO_REUSEPORT)) {
                    throw new UnsupportedOperationException("reusePort: SO_REUSEPORT is not supported on this platform");
                }
                ch.setOption(StandardSocketOptions.SO_REUSEPORT, true);
            }
            ch.bind(bindAddress, config.effectiveBacklog());
            return ch;
        } catch (IOException | RuntimeException e) {
            Quietly.close(ch, "listener");
            throw e;
        }
    }

    ServerSocketChannel channel() {
        return channel;
    }

    boolean isUnix() {
        return unix != null;
    }

    /** The address bound: a TCP address, or for a Unix socket the path clients use, not the name it was bound under. */
    SocketAddress address() {
        return address;
    }

    /** What the server's thread names carry: the port, or the socket file's name. */
    String name() {
        return address instanceof InetSocketAddress inet ? String.valueOf(inet.getPort())
                : unix.path().getFileName().toString();
    }

    /** Stops listening; best effort, never throws. */
    void close() {
        close(channel, unix);
    }

    private static void close(ServerSocketChannel channel, UnixSockets.Listener unix) {
        Quietly.close(channel, "listener"); // whatever it throws, the file goes, and the server's stop goes on
        if (unix != null) {
            UnixSockets.removeFile(unix);
        }
    }
}
