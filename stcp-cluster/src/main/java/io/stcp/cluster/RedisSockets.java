package io.stcp.cluster;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import redis.clients.jedis.exceptions.JedisConnectionException;

/**
 * Makes the sockets of {@link RedisBus}'s connections, the pooled ones and the subscriber's, within
 * a deadline: the name lookup ({@link HostLookup}) and the connects all end by it, and each connect
 * also within the connect timeout. Like Jedis's own socket factory, it tries each address of the
 * host in turn until one takes the connection (a name with an IPv6 and an IPv4 address, Redis
 * listening on one of them), and sets on each socket:
 * <ul>
 *   <li>{@code TCP_NODELAY}: commands are small writes; with Nagle's algorithm one written while
 *       earlier bytes are not yet acknowledged (the end of a long command, written in pieces) waits
 *       for that ACK, which the peer may delay (up to 40 ms on Linux);
 *   <li>{@code SO_KEEPALIVE}: an idle pooled connection to a peer that is gone without a word (a
 *       host that died, a NAT that forgot the flow) is found dead by the OS in the end rather than
 *       never;
 *   <li>{@code SO_LINGER} 0: a close resets the connection at once and drops what is still unsent.
 *       A connection is closed mostly when a call failed, often in the middle of a command (a write
 *       cut at the call's deadline, see {@link RedisBus}); what is left of that command must not
 *       reach Redis later, when it reads again. It also leaves no {@code TIME_WAIT} behind for each
 *       connection a failing Redis costs, and a close never waits for the peer.
 * </ul>
 * Jedis also sets {@code SO_REUSEADDR}, which matters only for a socket bound to a given local
 * address: these bind none (the OS picks a free port at connect), so it is not set.
 */
final class RedisSockets {
    private final String host;
    private final int port;
    private final int connectTimeoutMillis;
    private final HostLookup lookup;

    RedisSockets(String host, int port, int connectTimeoutMillis, HostLookup lookup) {
        this.host = host;
        this.port = port;
        this.connectTimeoutMillis = connectTimeoutMillis;
        this.lookup = lookup;
    }

    /**
     * A socket connected to Redis by {@code end} ({@link System#nanoTime()}), its read timeout not set.
     * Each socket is handed to {@code watch} before its connect, so that a watch that fires (the
     * bus closed, or the watch's deadline) closes it and ends a connect under way at once: a Redis
     * whose host drops the SYNs would otherwise hold the connecting thread, and the close waiting
     * for it, for the connect timeout.
     *
     * @throws JedisConnectionException when no address took the connection by then, or the lookup failed
     */
    Socket connect(long end, Watchdog.Watch watch) {
        return connect(end, watch, Socket::new);
    }

    /** As {@link #connect(long, Watchdog.Watch)}, with sockets made by {@code newSocket} (unconnected). */
    Socket connect(long end, Watchdog.Watch watch, Supplier<Socket> newSocket) {
        InetAddress[] addresses;
        try {
            addresses = lookup.addresses(end);
        } catch (IOException e) {
            throw new JedisConnectionException("failed to look up " + host + ": " + e.getMessage(), e);
        }
        IOException last = new UnknownHostException(host + ": no address");
        List<IOException> others = new ArrayList<>(); // the failures before last
        for (int i = 0; i < addresses.length; i++) {
            long leftMillis = TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime());
            if (leftMillis < 1) {
                if (i > 0) {
                    others.add(last);
                }
                last = new SocketTimeoutException("no time left to connect to " + addresses[i]);
                break;
            }
            Socket s = newSocket.get();
            watch.socket(s); // closed at once if the watch has fired already: the options below then fail
            try {
                s.setTcpNoDelay(true);
                s.setKeepAlive(true);
                s.setSoLinger(true, 0);
                s.connect(new InetSocketAddress(addresses[i], port), (int) Math.min(leftMillis, connectTimeoutMillis));
                return s;
            } catch (IOException e) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // it failed already
                }
                if (i > 0) {
                    others.add(last);
                }
                last = e;
                if (watch.fired()) { // its watch closed it ("Socket closed"): say why, and try no other address
                    last = new SocketException("connect to " + addresses[i] + " cut: the bus closed, or the deadline passed", e);
                    break;
                }
            }
        }
        JedisConnectionException failed = new JedisConnectionException(
                "failed to connect to " + host + ":" + port + ": " + last.getMessage(), last);
        others.forEach(failed::addSuppressed);
        throw failed;
    }
}
