package io.stcp.epoll;

import io.stcp.ConnectionReader;
import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Run by {@link PollerFairnessTest} in a JVM of its own with one carrier
 * ({@code -Djdk.virtualThreadScheduler.parallelism=1}): an echo server kept busy without a
 * pause by {@value #CLIENTS} clients of the same JVM, each pipelining four 16 KiB frames (relayed
 * back, as the benchmarks' echo does), and, once {@value #LOAD_BYTES} bytes have been echoed,
 * {@value #PROBES} probes in turn: a round trip on a connection of its own whose read loop suspends
 * between them (so each request needs a thread started), and a virtual thread started by this
 * platform thread. Prints one line per probe kind, {@code name ran=N of M max_ms=W}, and exits 0
 * when every probe was served within {@value #WAIT_MILLIS} ms, 2 when one was not, 3 when the load
 * never came up.
 */
public final class StarvationProbe {
    static final int CLIENTS = 100;
    static final int PROBES = 20;
    static final long WAIT_MILLIS = 5_000; // a starved probe is never served while the load runs; served ones take 20-70 ms
    static final long LOAD_BYTES = 64L << 20;
    private static final int BODY = 16 * 1024;

    private StarvationProbe() {}

    public static void main(String[] args) throws Exception {
        AtomicLong echoed = new AtomicLong();
        ConnectionReader reader = (sender, connection) -> {
            int length = connection.readInt();
            byte[] header = ByteBuffer.allocate(4).putInt(length).array();
            sender.relay(connection, header, length);
            echoed.addAndGet(length);
        };
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> clients = new ArrayList<>();
        List<Socket> sockets = new ArrayList<>();
        boolean served;
        try (TcpServer server = TcpServer.create(Echo.loopback().build(), reader, SenderFactory.queue(64)).start()) {
            InetSocketAddress address = server.address();
            for (int i = 0; i < CLIENTS; i++) {
                Socket s = new Socket(address.getAddress(), address.getPort());
                sockets.add(s);
                clients.add(Thread.ofPlatform().daemon().start(() -> pipeline(s, stop)));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (echoed.get() < LOAD_BYTES) {
                if (System.nanoTime() > deadline) {
                    System.out.println("load never came up: " + echoed.get() + " bytes echoed");
                    System.exit(3);
                }
                Thread.sleep(10);
            }
            served = probe(address);
            stop.set(true);
            for (Socket s : sockets) {
                s.close();
            }
            for (Thread t : clients) {
                t.join(TimeUnit.SECONDS.toMillis(30));
            }
        }
        System.out.flush();
        System.exit(served ? 0 : 2);
    }

    private static boolean probe(InetSocketAddress address) throws Exception {
        long maxTrip = 0;
        long maxStart = 0;
        int trips = 0;
        int starts = 0;
        try (Socket s = new Socket(address.getAddress(), address.getPort())) {
            s.setSoTimeout((int) WAIT_MILLIS);
            byte[] frame = Echo.frame(new byte[16]);
            for (int i = 0; i < PROBES; i++) {
                long t0 = System.nanoTime();
                s.getOutputStream().write(frame);
                try {
                    s.getInputStream().readNBytes(frame.length);
                    trips++;
                } catch (SocketTimeoutException e) {
                    // counted as not served
                }
                maxTrip = Math.max(maxTrip, System.nanoTime() - t0);
                Thread.sleep(20); // long enough for the read loop to suspend

                CountDownLatch ran = new CountDownLatch(1);
                t0 = System.nanoTime();
                Thread.ofVirtual().start(ran::countDown);
                if (ran.await(WAIT_MILLIS, TimeUnit.MILLISECONDS)) {
                    starts++;
                }
                maxStart = Math.max(maxStart, System.nanoTime() - t0);
                if (trips + starts < 2 * (i + 1)) {
                    break;
                }
            }
        }
        System.out.println("round_trips ran=" + trips + " of " + PROBES + " max_ms=" + maxTrip / 1_000_000);
        System.out.println("starts ran=" + starts + " of " + PROBES + " max_ms=" + maxStart / 1_000_000);
        return trips == PROBES && starts == PROBES;
    }

    private static void pipeline(Socket s, AtomicBoolean stop) {
        byte[] frame = Echo.frame(new byte[BODY]);
        byte[] four = new byte[4 * frame.length];
        for (int i = 0; i < 4; i++) {
            System.arraycopy(frame, 0, four, i * frame.length, frame.length);
        }
        try (OutputStream out = s.getOutputStream(); InputStream in = s.getInputStream()) {
            while (!stop.get()) {
                out.write(four);
                in.readNBytes(four.length);
            }
        } catch (IOException e) {
            // closed at the end
        }
    }
}
