package io.stcp.internal;

import io.stcp.ClientConfig;
import io.stcp.Durations;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.net.UnknownHostException;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * Makes one connected, blocking channel for a {@link RealTcpClient} attempt. The one place that
 * knows the kind of socket:
 *
 * <ul>
 *   <li>TCP ({@code host:port}): resolves the host again (through {@link Resolver}) to all its
 *       addresses, then connects to the first that answers: a host of one address on this
 *       thread, one of several by {@link HappyEyeballs} (each address tried on a thread of its
 *       own, staggered by the connection attempt delay, the families taking turns, the first
 *       connected winning), so a name whose first address is down, or drops SYNs, still connects
 *       through the others, and soon. A local address other than a wildcard fixes the family: only
 *       the addresses of its family are tried ({@link #reachableFrom}), and a host with none fails
 *       at once, naming them. Each try binds the local address if one is set (with
 *       {@code SO_REUSEADDR}: the previous connection's end of a fixed port may still be in
 *       TIME_WAIT, and tries overlap). The lookup and all the tries together take at most the
 *       connect timeout. A dial that fails at every address fails with an exception naming each
 *       address and its failure.
 *   <li>Unix domain ({@code unix:PATH}): connects without blocking — the JDK's blocking connect on
 *       a Unix socket has no timeout and waits without bound while the listener's backlog is full
 *       — so the attempt succeeds or fails at once (no such file, refused, backlog full), then
 *       makes the channel blocking as a server's accepted one is.
 * </ul>
 *
 * <p>An interrupt (the client's close) ends a connect in progress: the channel is closed. It
 * ends a host lookup too, which the JVM's resolver would not let it (the system's resolver can
 * take its timeout times its attempts, tens of seconds, when DNS is down): the lookup runs on a
 * thread of its own, left to finish by itself when the attempt gives up on it. The next attempt
 * does not start another while it runs, but waits for that one ({@link #lookup}): a resolver
 * that hangs costs the client one thread, not one per attempt (with a short connect timeout and
 * back-off, hundreds a second).
 */
final class Dialer {

    /** Resolves the host on every attempt; a seam for tests. */
    @FunctionalInterface
    interface Resolver {
        /** All the addresses of {@code host}, in the order to try them: at least one. */
        List<InetSocketAddress> resolve(String host, int port) throws IOException;

        /**
         * The JVM's resolver (its cache, {@code networkaddress.cache.ttl}, applies), all its
         * addresses in its order ({@code java.net.preferIPv6Addresses}); an empty host is the
         * loopback address.
         */
        Resolver DNS = (host, port) -> {
            if (host.isEmpty()) {
                return List.of(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            }
            InetAddress[] all;
            try {
                all = InetAddress.getAllByName(host);
            } catch (UnknownHostException e) {
                UnknownHostException named = new UnknownHostException("unknown host \"" + host + "\"");
                named.initCause(e);
                throw named;
            }
            List<InetSocketAddress> addresses = new ArrayList<>(all.length);
            for (InetAddress a : all) {
                addresses.add(new InetSocketAddress(a, port));
            }
            return addresses;
        };
    }

    private final ClientConfig config;
    private final HostPort target;   // null for a Unix socket
    private final Path unixPath;     // null for TCP
    private final Resolver resolver;
    /** The last host lookup: one still under way is waited for again, not started again. The dialler thread's own. */
    private @Nullable CompletableFuture<List<InetSocketAddress>> lookup;

    Dialer(ClientConfig config, Resolver resolver) {
        this.config = config;
        boolean unix = HostPort.isUnix(config.address());
        this.unixPath = unix ? HostPort.unixPath(config.address()) : null;
        this.target = unix ? null : HostPort.parse(config.address());
        this.resolver = resolver;
    }

    /**
     * Connects once: a TCP attempt whose lookup and connects take longer than the connect timeout
     * fails with a SocketTimeoutException.
     */
    SocketChannel dial() throws IOException {
        return unixPath != null ? dialUnix(unixPath) : dialTcp();
    }

    private SocketChannel dialTcp() throws IOException {
        long deadline = Nanos.deadlineAfter(config.connectTimeout()); // the lookup and the connects together
        List<InetSocketAddress> resolved = resolveInterruptibly(target.host(), target.port(), deadline);
        List<InetSocketAddress> remotes = reachableFrom(config.localAddress(), resolved);
        if (remotes.isEmpty()) {
            String family = config.localAddress().getAddress() instanceof Inet4Address ? "IPv4" : "IPv6";
            throw new ConnectException("connecting to " + config.address() + ": none of its addresses, "
                    + addresses(resolved) + ", can be reached from the local address "
                    + HostPort.format(config.localAddress()) + " (an " + family + " address connects to " + family
                    + " addresses only)");
        }
        if (remotes.size() == 1) { // its own failure, on this thread
            return connect(remotes.get(0), deadline == 0 ? 0 : Math.max(1, Nanos.left(deadline, System.nanoTime())));
        }
        return new HappyEyeballs(config.address(), HappyEyeballs.interleaved(remotes), deadline,
                Nanos.clamp(config.connectionAttemptDelay()), config.connectTimeout(), this::connect).connect();
    }

    /**
     * Those of {@code remotes} a socket bound to {@code local} can connect to, in their order: all
     * of them without a local address, or with a wildcard one ({@code 0.0.0.0} or {@code ::}, which
     * the JDK binds as the any address of a dual-stack socket, reaching both families); else those
     * of the local address's family (an IPv4 address connects to IPv4 addresses only, an IPv6 one
     * to IPv6 addresses only: the connect would fail at once, "Address family not supported" or
     * "Network is unreachable"), so a race does not wait on, nor list, tries that cannot connect.
     */
    static List<InetSocketAddress> reachableFrom(@Nullable InetSocketAddress local, List<InetSocketAddress> remotes) {
        InetAddress bound = local == null ? null : local.getAddress();
        if (bound == null || bound.isAnyLocalAddress()) {
            return remotes;
        }
        boolean v4 = bound instanceof Inet4Address;
        List<InetSocketAddress> reachable = new ArrayList<>(remotes.size());
        for (InetSocketAddress r : remotes) {
            if ((r.getAddress() instanceof Inet4Address) == v4) {
                reachable.add(r);
            }
        }
        return reachable.size() == remotes.size() ? remotes : reachable;
    }

    private static String addresses(List<InetSocketAddress> all) {
        return all.stream().map(HostPort::format).collect(java.util.stream.Collectors.joining(", "));
    }

    /** One connect to {@code remote} within {@code timeoutNanos} (0: none). */
    private SocketChannel connect(InetSocketAddress remote, long timeoutNanos) throws IOException {
        SocketChannel ch = SocketChannel.open();
        try {
            if (config.localAddress() != null) {
                // The port of a connection the client closed first waits in TIME_WAIT for a minute
                // or more: without this, a fixed local port could not be bound again until then.
                ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                ch.bind(config.localAddress());
            }
            ch.setOption(StandardSocketOptions.TCP_NODELAY, config.tcpNoDelay());
            long timeoutMillis = timeoutNanos == 0 ? 0
                    : Math.max(1, Math.min(Integer.MAX_VALUE, TimeUnit.NANOSECONDS.toMillis(timeoutNanos)));
            ch.socket().connect(remote, (int) timeoutMillis); // an interrupt (close) closes the channel
            return ch;
        } catch (IOException | RuntimeException | Error e) {
            Quietly.close(ch, "socket"); // the failure that counts is e
            throw e;
        }
    }

    /**
     * The resolver's answer, waited for on this thread until it comes, {@code deadline} passes (0:
     * none) or this thread is interrupted.
     */
    private List<InetSocketAddress> resolveInterruptibly(String host, int port, long deadline) throws IOException {
        CompletableFuture<List<InetSocketAddress>> answer = lookup;
        if (answer == null || answer.isDone()) { // a lookup an earlier attempt gave up on, still under way, is waited for
            answer = new CompletableFuture<>();
            CompletableFuture<List<InetSocketAddress>> f = answer;
            Threads.start("stcp-client-resolve", () -> {
                try {
                    List<InetSocketAddress> all = List.copyOf(resolver.resolve(host, port));
                    if (all.isEmpty()) {
                        throw new UnknownHostException("no address for \"" + host + "\"");
                    }
                    f.complete(all);
                } catch (Throwable t) {
                    f.completeExceptionally(t);
                }
            });
            lookup = answer;
        }
        try {
            return deadline == 0 ? answer.get()
                    : answer.get(Nanos.left(deadline, System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new SocketTimeoutException("looking up \"" + host + "\": no answer within the connect timeout of "
                    + Durations.format(config.connectTimeout()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("looking up \"" + host + "\": interrupted (the client closed)");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException io) {
                throw io;
            } else if (cause instanceof RuntimeException re) {
                throw re;
            } else if (cause instanceof Error err) {
                throw err;
            }
            throw new IOException(cause);
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
            Quietly.close(ch, "socket"); // the failure that counts is e
            throw e;
        }
    }
}
