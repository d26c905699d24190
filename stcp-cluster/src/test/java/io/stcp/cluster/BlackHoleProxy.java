package io.stcp.cluster;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A loopback TCP relay to Redis that can swallow the connections it relays, as a NAT or stateful
 * firewall does when it forgets an idle flow: {@link #blackHole()} closes the Redis side of every
 * connection relayed so far (Redis sees its client gone) and from then on discards whatever
 * either side sends, while the client's socket stays open and hears nothing, ever. Connections
 * made afterwards are relayed normally.
 *
 * <p>{@link #swallowNextSubscribe()} swallows one connection the same way, at the moment its client
 * sends {@code SUBSCRIBE} (which Redis never gets): what came before, the handshake and a PING,
 * was answered; the confirmations the client now waits for never come.
 *
 * <p>It can also play Redis gone while it keeps its data: {@link #cut()} closes both sides of
 * every connection relayed so far and closes each new one at once, until {@link #restore()}.
 */
final class BlackHoleProxy implements AutoCloseable {
    private final InetSocketAddress upstream;
    private final ServerSocket server;
    private final List<Pair> pairs = new CopyOnWriteArrayList<>();
    private final List<Thread> threads = new CopyOnWriteArrayList<>();
    private volatile boolean cut;
    private final AtomicBoolean swallowSubscribe = new AtomicBoolean();
    private volatile long subscribeSwallowedNanos;
    private volatile long subscribeClosedNanos;

    private final class Pair {
        final Socket client;
        final Socket redis;
        volatile boolean swallowed;

        Pair(Socket client, Socket redis) {
            this.client = client;
            this.redis = redis;
        }

        volatile boolean swallowedAtSubscribe;

        void pump(Socket from, Socket to) {
            byte[] buf = new byte[8192];
            String tail = ""; // the end of the previous read, for a command split between two
            try (InputStream in = from.getInputStream()) {
                OutputStream out = to.getOutputStream();
                for (int n; (n = in.read(buf)) >= 0; ) {
                    if (from == client && !swallowed && swallowSubscribe.get()) {
                        String seen = tail + new String(buf, 0, n, StandardCharsets.ISO_8859_1);
                        tail = seen.substring(Math.max(0, seen.length() - 8));
                        if (seen.toUpperCase(Locale.ROOT).contains("SUBSCRIBE") && swallowSubscribe.compareAndSet(true, false)) {
                            swallowedAtSubscribe = true;
                            swallowed = true;
                            subscribeSwallowedNanos = System.nanoTime();
                            closeQuietly(redis);
                        }
                    }
                    if (!swallowed) {
                        out.write(buf, 0, n);
                        out.flush();
                    }
                }
            } catch (IOException e) {
                // closed
            }
            if (from == client && swallowedAtSubscribe) {
                subscribeClosedNanos = System.nanoTime();
            }
            if (!swallowed) {
                closeQuietly(client);
                closeQuietly(redis);
            }
        }
    }

    BlackHoleProxy(int redisPort) throws IOException {
        this.upstream = new InetSocketAddress(InetAddress.getLoopbackAddress(), redisPort);
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        threads.add(Thread.ofVirtual().name("black-hole-accept").start(this::acceptLoop));
    }

    String address() {
        return "127.0.0.1:" + server.getLocalPort();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                if (cut) {
                    closeQuietly(client);
                    continue;
                }
                Socket redis = new Socket();
                try {
                    redis.connect(upstream, 1000);
                } catch (IOException e) {
                    closeQuietly(client);
                    closeQuietly(redis);
                    continue;
                }
                Pair p = new Pair(client, redis);
                pairs.add(p);
                if (cut) { // cut() ran meanwhile and may have missed p
                    closeQuietly(client);
                    closeQuietly(redis);
                }
                threads.add(Thread.ofVirtual().start(() -> p.pump(client, redis)));
                threads.add(Thread.ofVirtual().start(() -> p.pump(redis, client)));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    /** Swallows every connection relayed so far; see the class comment. */
    void blackHole() {
        for (Pair p : pairs) {
            p.swallowed = true;
            closeQuietly(p.redis);
        }
    }

    /** Swallows the next connection that sends {@code SUBSCRIBE}, from that command on; see the class comment. */
    void swallowNextSubscribe() {
        swallowSubscribe.set(true);
    }

    /** When {@link #swallowNextSubscribe()} swallowed a connection ({@link System#nanoTime()}), or 0. */
    long subscribeSwallowedNanos() {
        return subscribeSwallowedNanos;
    }

    /** When the client closed the connection swallowed at its {@code SUBSCRIBE}, or 0. */
    long subscribeClosedNanos() {
        return subscribeClosedNanos;
    }

    /** Closes every connection relayed so far, and each new one as soon as it is accepted, until {@link #restore()}. */
    void cut() {
        cut = true;
        for (Pair p : pairs) {
            closeQuietly(p.client);
            closeQuietly(p.redis);
        }
    }

    /** Relays new connections again after {@link #cut()}. */
    void restore() {
        cut = false;
    }

    @Override
    public void close() throws InterruptedException {
        closeQuietly(server);
        for (Pair p : pairs) {
            closeQuietly(p.client);
            closeQuietly(p.redis);
        }
        for (Thread t : threads) {
            t.join(10_000);
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            // closing
        }
    }
}
