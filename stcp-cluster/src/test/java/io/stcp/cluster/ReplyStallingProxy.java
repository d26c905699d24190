package io.stcp.cluster;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A loopback TCP relay to Redis that can hold back Redis's replies while Redis still gets, and
 * runs, every command: {@link #stallRepliesFrom(String)} picks the next connection whose client
 * sends that command, and from the moment it does, nothing Redis sends on that connection reaches
 * the client (it waits, and times out). Every other connection, and everything before that
 * command, is relayed as is. {@link #delayRepliesOnNewConnections(Duration)} plays a slow Redis
 * instead, on the connections made from then on: each reply reaches the client that much later;
 * {@link #delayRequestsOnNewConnections(Duration)} a slow link the other way;
 * {@link #trickleRepliesOnNewConnections(int, Duration)} a narrow one, on which a long reply
 * arrives piece by piece, short ones at once.
 * {@link #stopReadingFrom(String)} plays a Redis that stops reading (paused, or stuck): from that
 * command on, nothing more is read from the client, so a long command fills the socket buffers
 * (the relay's receive buffer is small) and the client's write blocks. The relay also records how
 * each client connection ended ({@link #clientEnds()}).
 */
final class ReplyStallingProxy implements AutoCloseable {
    private final InetSocketAddress upstream;
    private final ServerSocket server;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final List<Thread> threads = new CopyOnWriteArrayList<>();
    /** The command (as RESP sends it: a bulk string of its own) whose connection stalls next, or null. */
    private final AtomicReference<String> armed = new AtomicReference<>();
    /** The command (as {@link #armed}) from which the relay stops reading its connection's client, or null. */
    private final AtomicReference<String> deafFrom = new AtomicReference<>();
    private final CountDownLatch closing = new CountDownLatch(1);
    private final List<String> clientEnds = new CopyOnWriteArrayList<>();
    private final List<Duration> clientLifetimes = new CopyOnWriteArrayList<>();
    private volatile long delayNanos; // of the replies on connections accepted from now on
    private volatile long requestDelayNanos; // of each read from the client, on connections accepted from now on
    private volatile int tricklePiece; // the most read from Redis at once, on connections accepted from now on; 0: no trickle
    private volatile long trickleGapNanos; // the pause after each whole piece

    ReplyStallingProxy(int redisPort) throws IOException {
        this.upstream = new InetSocketAddress(InetAddress.getLoopbackAddress(), redisPort);
        this.server = new ServerSocket();
        server.setReceiveBufferSize(64 << 10); // inherited by the accepted sockets: a client that writes more than it fills it
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
        threads.add(Thread.ofVirtual().name("stalling-proxy-accept").start(this::acceptLoop));
    }

    String address() {
        return "127.0.0.1:" + server.getLocalPort();
    }

    /** Each reply on the connections accepted from now on reaches the client {@code delay} after Redis sent it. */
    void delayRepliesOnNewConnections(Duration delay) {
        delayNanos = delay.toNanos();
    }

    /**
     * Each read from the client (at most 8 KiB) on the connections accepted from now on reaches
     * Redis {@code delay} after it came: a slow link, on which a command of {@code n} bytes takes at
     * least {@code n / 8 KiB} times {@code delay} to arrive whole, however fast the machine.
     */
    void delayRequestsOnNewConnections(Duration delay) {
        requestDelayNanos = delay.toNanos();
    }

    /**
     * Redis's replies on the connections accepted from now on are read at most {@code piece} bytes
     * at a time, and each read that fills a piece is followed by a pause of {@code gap} before the
     * next: a reply shorter than a piece passes at once, one of {@code n} bytes takes at least
     * {@code n / piece} times {@code gap} to arrive whole, however fast the machine.
     */
    void trickleRepliesOnNewConnections(int piece, Duration gap) {
        trickleGapNanos = gap.toNanos();
        tricklePiece = piece;
    }

    /** The next connection to send {@code command} (upper case, as Jedis sends it) hears no reply from it on. */
    void stallRepliesFrom(String command) {
        armed.set("\r\n" + command + "\r\n");
    }

    /** The next connection to send {@code command} (upper case) is read no more from it on: its client's writes fill the buffers. */
    void stopReadingFrom(String command) {
        deafFrom.set("\r\n" + command + "\r\n");
    }

    /**
     * How each client connection that has ended did, in order: {@code "eof"} (the client closed it,
     * every byte sent), {@code "reset"} (the client reset it: a close with {@code SO_LINGER} 0), or
     * {@code "error: ..."}. Not those the relay closed itself first.
     */
    List<String> clientEnds() {
        return List.copyOf(clientEnds);
    }

    /** How long each client connection that the client ended (as in {@link #clientEnds()}) lived, from its accept, in order. */
    List<Duration> clientLifetimes() {
        return List.copyOf(clientLifetimes);
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                long acceptedNanos = System.nanoTime();
                Socket redis = new Socket();
                sockets.add(client);
                sockets.add(redis);
                try {
                    redis.connect(upstream, 1000);
                } catch (IOException e) {
                    closeQuietly(client);
                    closeQuietly(redis);
                    continue;
                }
                AtomicBoolean stalled = new AtomicBoolean(); // set by the client's pump before it forwards the command
                long delay = delayNanos;
                long requestDelay = requestDelayNanos;
                int piece = tricklePiece == 0 ? 8192 : tricklePiece;
                long gap = tricklePiece == 0 ? 0 : trickleGapNanos;
                threads.add(Thread.ofVirtual().start(() -> pump(client, redis, stalled, true, requestDelay, acceptedNanos, 8192, 0)));
                threads.add(Thread.ofVirtual().start(() -> pump(redis, client, stalled, false, delay, acceptedNanos, piece, gap)));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    /**
     * Copies {@code from} to {@code to} until either closes. From the client: sets {@code stalled}
     * when the armed command comes, before forwarding it; stops reading, and forwards nothing more,
     * when the command of {@link #stopReadingFrom} comes; records how the client ended. From Redis: drops what comes once
     * {@code stalled} is set. Either way forwards what it reads {@code delay} nanoseconds after it came,
     * reads at most {@code piece} bytes at a time, and pauses {@code gap} nanoseconds after each read that filled one.
     */
    private void pump(Socket from, Socket to, AtomicBoolean stalled, boolean fromClient, long delay, long acceptedNanos,
            int piece, long gap) {
        byte[] buf = new byte[piece];
        String tail = ""; // the end of the previous read, for a command split between two reads
        try {
            InputStream in = from.getInputStream(); // closed with from, below: not before the catch looks at it
            OutputStream out = to.getOutputStream();
            for (int n; (n = in.read(buf)) >= 0; ) {
                if (fromClient) {
                    String marker = armed.get();
                    String seen = tail + new String(buf, 0, n, StandardCharsets.ISO_8859_1);
                    tail = seen.substring(Math.max(0, seen.length() - 16));
                    if (marker != null && seen.contains(marker) && armed.compareAndSet(marker, null)) {
                        stalled.set(true);
                    }
                    String deaf = deafFrom.get();
                    if (deaf != null && seen.contains(deaf) && deafFrom.compareAndSet(deaf, null)) {
                        closing.await(); // reads nothing more until the relay closes
                        from.close(); // its end is not the client's doing: not recorded
                        break;
                    }
                }
                if (delay > 0) {
                    Thread.sleep(Duration.ofNanos(delay)); // a slow link or server, played: nothing waits on it
                }
                if (fromClient || !stalled.get()) {
                    out.write(buf, 0, n);
                    out.flush();
                }
                if (gap > 0 && n == piece) {
                    Thread.sleep(Duration.ofNanos(gap)); // a narrow link, played: nothing waits on it
                }
            }
            if (fromClient && !from.isClosed()) {
                clientLifetimes.add(Duration.ofNanos(System.nanoTime() - acceptedNanos));
                clientEnds.add("eof");
            }
        } catch (IOException | InterruptedException e) {
            if (fromClient && !from.isClosed()) {
                clientLifetimes.add(Duration.ofNanos(System.nanoTime() - acceptedNanos));
                clientEnds.add(e instanceof SocketException && "Connection reset".equals(e.getMessage()) ? "reset" : "error: " + e);
            }
        }
        closeQuietly(from);
        closeQuietly(to);
    }

    @Override
    public void close() throws InterruptedException {
        closeQuietly(server);
        closing.countDown();
        for (Socket s : sockets) {
            closeQuietly(s);
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
