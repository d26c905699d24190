package io.stcp.epoll;

import io.stcp.ConnectionReader;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import io.stcp.TlsConfig;
import io.stcp.testing.Echo;
import io.stcp.testing.TestCerts;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * Run by {@link StreamingFairnessTest} in a JVM of its own with one carrier
 * ({@code -Djdk.virtualThreadScheduler.parallelism=1}): an echo server (frames of 16 KiB with
 * their header, relayed back, as the benchmarks' echo does) and {@value #CLIENTS} connections of
 * the same JVM whose peers never pause — a thread per connection sends frames as fast as the
 * socket takes them, another reads the echoes — so that every reader always finds input. Once the
 * load has come up, it counts the bytes echoed on each connection until {@link #SPAN} more have
 * come back in all, and prints {@code echoed min=.. max=.. all=[..]}: how evenly one carrier
 * served the connections; and {@code starts longest_ms=..}: the longest a virtual thread started
 * meanwhile by a platform thread waited to run (reported, not judged). Exits 0 when every
 * connection got at least a {@value #SHARE}th of the busiest one's share, 2 when not, 3 when the
 * load never came up or the span never ended (within {@value #WAIT_SECONDS} s each).
 *
 * <p>Arguments {@code tls CERT KEY CA} (PEM files): the same over TLS, where a reader's input is
 * often records the TLS layer holds rather than bytes in the socket, over {@link #TLS_SPAN}.
 */
public final class StreamingFairnessProbe {
    static final int CLIENTS = 8;
    static final int BATCH = 16;
    static final long SPAN = 640L << 20;
    static final long TLS_SPAN = 160L << 20;
    static final long WAIT_SECONDS = 20;
    static final int SHARE = 4;
    /**
     * Frames of 16 KiB with their header, as the benchmarks send: four fill a large read buffer
     * exactly, so a reader often finds it empty at a frame's end with more input in the socket.
     */
    private static final int BODY = 16 * 1024 - 4;

    private static long longestStart; // main thread only: the longest a virtual thread it started took to run

    private StreamingFairnessProbe() {}

    public static void main(String[] args) throws Exception {
        ConnectionReader reader = (sender, connection) -> {
            int length = connection.readInt();
            sender.relay(connection, ByteBuffer.allocate(4).putInt(length).array(), length);
        };
        boolean tls = args.length > 0 && args[0].equals("tls");
        ServerConfig.Builder config = Echo.loopback();
        SSLContext clientTls = null;
        if (tls) {
            config.tls(TlsConfig.fromPem(Path.of(args[1]), Path.of(args[2])));
            clientTls = TestCerts.clientContext(Path.of(args[3]), null, null);
        }
        long span = tls ? TLS_SPAN : SPAN;
        AtomicLongArray echoed = new AtomicLongArray(CLIENTS);
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        List<Socket> sockets = new ArrayList<>();
        int exit;
        try (TcpServer server = TcpServer.create(config.build(), reader, SenderFactory.queue(64)).start()) {
            InetSocketAddress address = server.address();
            for (int i = 0; i < CLIENTS; i++) {
                Socket plain = new Socket(address.getAddress(), address.getPort());
                sockets.add(plain); // closed at the end underneath TLS too: nothing waits on a lock of the TLS socket then
                Socket s = tls ? handshake(clientTls, plain) : plain;
                int client = i;
                threads.add(Thread.ofPlatform().daemon().start(() -> send(s, stop)));
                threads.add(Thread.ofPlatform().daemon().start(() -> receive(s, echoed, client, stop)));
            }
            exit = awaitTotal(echoed, span / 4) ? measure(echoed, span) : 3;
            stop.set(true);
            for (Socket s : sockets) {
                s.close();
            }
            for (Thread t : threads) {
                t.interrupt(); // a writer may wait for room in its window
                t.join(TimeUnit.SECONDS.toMillis(30));
            }
        }
        System.out.flush();
        System.exit(exit);
    }

    /** The TLS client side over {@code plain}, its handshake done. */
    private static Socket handshake(SSLContext context, Socket plain) throws IOException {
        SSLSocket s = (SSLSocket) context.getSocketFactory().createSocket(plain, "localhost", plain.getPort(), true);
        s.startHandshake();
        return s;
    }

    /** Bytes echoed per connection over the next {@code span} in all: 0 if even enough, 2 if not, 3 if they never came. */
    private static int measure(AtomicLongArray echoed, long span) throws InterruptedException {
        long[] before = snapshot(echoed);
        longestStart = 0;
        if (!awaitTotal(echoed, total(before) + span)) {
            return 3;
        }
        long[] after = snapshot(echoed);
        long[] each = new long[CLIENTS];
        for (int i = 0; i < CLIENTS; i++) {
            each[i] = after[i] - before[i];
        }
        long min = Arrays.stream(each).min().orElseThrow();
        long max = Arrays.stream(each).max().orElseThrow();
        System.out.println("echoed min=" + min + " max=" + max + " all=" + Arrays.toString(each));
        System.out.println("starts longest_ms=" + TimeUnit.NANOSECONDS.toMillis(longestStart));
        return min * SHARE >= max ? 0 : 2;
    }

    /**
     * Waits until {@code total} bytes have been echoed in all; meanwhile starts a virtual thread
     * from this platform thread every few milliseconds, keeping the longest it took to run.
     */
    private static boolean awaitTotal(AtomicLongArray echoed, long total) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (total(snapshot(echoed)) < total) {
            if (System.nanoTime() > deadline) {
                System.out.println("only " + total(snapshot(echoed)) + " of " + total + " bytes came back");
                return false;
            }
            CountDownLatch ran = new CountDownLatch(1);
            long t0 = System.nanoTime();
            Thread.ofVirtual().start(ran::countDown);
            ran.await(WAIT_SECONDS, TimeUnit.SECONDS);
            longestStart = Math.max(longestStart, System.nanoTime() - t0);
            Thread.sleep(5);
        }
        return true;
    }

    private static long[] snapshot(AtomicLongArray echoed) {
        long[] s = new long[echoed.length()];
        for (int i = 0; i < s.length; i++) {
            s[i] = echoed.get(i);
        }
        return s;
    }

    private static long total(long[] counts) {
        return Arrays.stream(counts).sum();
    }

    /** Sends frames as fast as the socket takes them, {@value #BATCH} at a time: the server always finds input. */
    private static void send(Socket s, AtomicBoolean stop) {
        byte[] frame = Echo.frame(new byte[BODY]);
        byte[] batch = new byte[BATCH * frame.length];
        for (int i = 0; i < BATCH; i++) {
            System.arraycopy(frame, 0, batch, i * frame.length, frame.length);
        }
        try {
            OutputStream out = s.getOutputStream();
            while (!stop.get()) {
                out.write(batch);
            }
        } catch (IOException e) {
            // closed at the end
        }
    }

    /** Reads the echoes as they come, counting bytes. */
    private static void receive(Socket s, AtomicLongArray echoed, int client, AtomicBoolean stop) {
        byte[] b = new byte[BATCH * (4 + BODY)];
        try {
            InputStream in = s.getInputStream();
            int n;
            while (!stop.get() && (n = in.read(b)) > 0) {
                echoed.addAndGet(client, n);
            }
        } catch (IOException e) {
            // closed at the end
        }
    }
}
