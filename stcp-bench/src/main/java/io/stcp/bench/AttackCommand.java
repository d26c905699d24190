package io.stcp.bench;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Attacks the {@code echo} example, run in its own JVM with a 1 GiB heap, as a crowd of hostile
 * clients would, and reports what the server did: whether it ran out of memory, its live heap
 * under the attack, whether an honest client was still served, how it closed the attackers, and
 * whether SIGTERM still ends it with exit code 0. Every scenario is bounded in count and time.
 *
 * <ul>
 *   <li>{@code header-only}: N connections each send a 4-byte header announcing 1 MiB, then nothing;</li>
 *   <li>{@code pipeline}: one client writes 10,000 frames in one write, then reads the replies;</li>
 *   <li>{@code slowloris}: N connections each complete one frame, then trickle a byte of the next
 *       every 2 s (the server runs with a 10 s frame timeout);</li>
 *   <li>{@code no-read}: N clients send 1 MiB frames as fast as they can and never read a reply
 *       (the server runs with {@code --no-write-inline}, so every reply queues).</li>
 * </ul>
 */
@Command(name = "attack", mixinStandardHelpOptions = true,
        description = "Hostile clients against the echo example (-Xmx1g); prints what the server did.")
final class AttackCommand implements Callable<Integer> {
    private static final int MIB = 1 << 20;

    @Option(names = "--scenarios", split = ",", defaultValue = "header-only,pipeline,slowloris,no-read",
            description = "Scenarios to run (default: ${DEFAULT-VALUE}).")
    List<String> scenarios;

    @Option(names = "--transports", split = ",", defaultValue = "epoll,jdk",
            description = "The echo server's transports (default: ${DEFAULT-VALUE}).")
    List<String> transports;

    @Option(names = "--header-only", defaultValue = "5000", description = "Connections of header-only (default: ${DEFAULT-VALUE}).")
    int headerOnly;

    @Option(names = "--slowloris", defaultValue = "1000", description = "Connections of slowloris (default: ${DEFAULT-VALUE}).")
    int slowloris;

    @Option(names = "--no-read", defaultValue = "50", description = "Clients of no-read (default: ${DEFAULT-VALUE}).")
    int noRead;

    @Option(names = "--stcp-jar", defaultValue = "stcp-examples/target/stcp-examples.jar")
    Path stcpJar;

    @Override
    public Integer call() throws Exception {
        System.out.println("| transport | scenario | result | server live heap after GC MiB | OutOfMemoryError in log"
                + " | honest client served | SIGTERM exit code (time) |");
        System.out.println("|---|---|---|---|---|---|---|");
        for (String transport : transports) {
            for (String scenario : scenarios) {
                run(transport, scenario);
            }
        }
        return 0;
    }

    private void run(String transport, String scenario) throws Exception {
        int port = Processes.freePort();
        List<String> cmd = new ArrayList<>(List.of(Processes.java(), "-Xmx1g", "-jar", stcpJar.toString(), "echo",
                "--addr", "127.0.0.1:" + port, "--max-conn", "0", "--transport", transport.equals("epoll") ? "epoll" : "jdk"));
        switch (scenario) {
            case "slowloris" -> cmd.addAll(List.of("--frame-timeout", "10s", "--first-frame-timeout", "10s",
                    "--read-idle-timeout", "5s"));
            // The others measure what held connections cost, so none may leave by a timeout (the echo
            // example's defaults close a silent peer after 10 s): as in the runs BENCHMARKS.md reports.
            case "no-read" -> cmd.addAll(List.of("--no-write-inline", "--first-frame-timeout", "0s", "--read-idle-timeout", "0s"));
            default -> cmd.addAll(List.of("--first-frame-timeout", "0s", "--read-idle-timeout", "0s"));
        }
        Path log = Files.createTempFile("attack-" + transport + "-" + scenario, ".log");
        Process server = Processes.start(cmd, log);
        String result;
        long heapMib = -1;
        boolean served;
        List<Socket> held = new ArrayList<>();
        try {
            Processes.awaitPort(port, server);
            result = switch (scenario) {
                case "header-only" -> headerOnly(port, held);
                case "pipeline" -> pipeline(port);
                case "slowloris" -> slowloris(port);
                case "no-read" -> noRead(port, held);
                default -> throw new IllegalArgumentException("--scenarios: " + scenario);
            };
            heapMib = liveHeapMib(server);
            served = honestClientServed(port);
        } finally {
            for (Socket s : held) {
                closeQuietly(s);
            }
        }
        long start = System.nanoTime();
        server.destroy(); // SIGTERM: the echo example shuts down gracefully and exits 0
        boolean exited = server.waitFor(60, TimeUnit.SECONDS);
        String exit = exited ? server.exitValue() + " (" + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) + " ms)"
                : "did not exit within 60s";
        if (!exited) {
            server.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        String text = Files.readString(log);
        boolean oom = text.contains("OutOfMemoryError");
        System.out.printf("| %s | %s | %s | %s | %s | %s | %s |%n", transport, scenario, result,
                heapMib < 0 ? "?" : Long.toString(heapMib), oom ? "**yes**" : "no", served ? "yes" : "**no**", exit);
        System.out.println("<!-- server log: " + log + " -->");
    }

    /** N connections announce 1 MiB each and send nothing more. */
    private String headerOnly(int port, List<Socket> held) throws IOException {
        byte[] header = ByteBuffer.allocate(4).putInt(MIB).array();
        for (int i = 0; i < headerOnly; i++) {
            Socket s = connect(port, i);
            held.add(s);
            s.getOutputStream().write(header);
        }
        return headerOnly + " connections announced " + headerOnly + " MiB";
    }

    /** One client writes 10,000 frames at once, then reads every reply. */
    private String pipeline(int port) throws IOException {
        int frames = 10_000;
        ByteBuffer burst = ByteBuffer.allocate(frames * 12);
        for (int i = 0; i < frames; i++) {
            burst.putInt(8).putLong(i);
        }
        try (Socket s = connect(port, 0)) {
            s.setSoTimeout(30_000);
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    s.getOutputStream().write(burst.array());
                } catch (IOException e) {
                    // the reader below reports the shortfall
                }
            });
            DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(s.getInputStream()));
            int replies = 0;
            try {
                for (; replies < frames; replies++) {
                    in.readInt();
                    if (in.readLong() != replies) {
                        break;
                    }
                }
            } catch (IOException e) {
                // closed early: reported below
            }
            writer.join();
            return replies + " of " + frames + " replies, in order";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    /** N connections complete one frame, then trickle the next a byte every 2 s; how long until closed? */
    private String slowloris(int port) throws Exception {
        List<Socket> sockets = new ArrayList<>();
        for (int i = 0; i < slowloris; i++) {
            Socket s = connect(port, i);
            s.setSoTimeout(60_000);
            sockets.add(s);
            s.getOutputStream().write(new byte[] {0, 0, 0, 1, 42, 0, 0, 0, 100});
            InputStream in = s.getInputStream();
            in.readNBytes(5); // the echo of the first frame
        }
        long start = System.nanoTime();
        ConcurrentLinkedQueue<Long> closedAfterMillis = new ConcurrentLinkedQueue<>();
        long deadline = start + TimeUnit.SECONDS.toNanos(60);
        List<Socket> open = new ArrayList<>(sockets);
        while (!open.isEmpty() && System.nanoTime() < deadline) {
            for (var it = open.iterator(); it.hasNext(); ) {
                Socket s = it.next();
                try {
                    s.getOutputStream().write(7);
                    if (s.getInputStream().available() == 0 && !closedByPeer(s)) {
                        continue;
                    }
                } catch (IOException closed) {
                    // reset: closed
                }
                closedAfterMillis.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
                it.remove();
                closeQuietly(s);
            }
            TimeUnit.SECONDS.sleep(2); // the attack's own pace: one byte per connection every 2 s
        }
        for (Socket s : open) {
            closeQuietly(s);
        }
        long[] times = closedAfterMillis.stream().mapToLong(Long::longValue).sorted().toArray();
        return closedAfterMillis.size() + " of " + slowloris + " closed by the server"
                + (times.length == 0 ? "" : ", after " + times[times.length / 2] / 1000.0 + " s (median), "
                + times[times.length - 1] / 1000.0 + " s (last) of trickling");
    }

    /** Whether the server has closed {@code s}: a read that does not block returns end of stream. */
    private static boolean closedByPeer(Socket s) throws IOException {
        s.setSoTimeout(1);
        try {
            return s.getInputStream().read() < 0;
        } catch (java.net.SocketTimeoutException stillOpen) {
            return false;
        } finally {
            s.setSoTimeout(60_000);
        }
    }

    /** N clients send 1 MiB frames for up to 30 s and never read. */
    private String noRead(int port, List<Socket> held) throws Exception {
        AtomicInteger closed = new AtomicInteger();
        List<Thread> writers = new ArrayList<>();
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        byte[] frame = ByteBuffer.allocate(4 + MIB).putInt(MIB).array();
        for (int i = 0; i < noRead; i++) {
            Socket s = connect(port, i);
            s.setReceiveBufferSize(64 << 10);
            held.add(s);
            writers.add(Thread.ofVirtual().start(() -> {
                try {
                    OutputStream out = s.getOutputStream();
                    while (System.nanoTime() < until) {
                        out.write(frame);
                    }
                } catch (IOException e) {
                    closed.incrementAndGet(); // the server closed it
                }
            }));
        }
        for (Socket s : held) {
            // a client the server has stopped reading blocks in write forever: end it at the deadline
            Thread.ofVirtual().start(() -> {
                try {
                    TimeUnit.NANOSECONDS.sleep(Math.max(0, until - System.nanoTime()));
                } catch (InterruptedException ignored) {
                    // closing anyway
                }
                closeQuietly(s);
            });
        }
        for (Thread t : writers) {
            t.join(TimeUnit.SECONDS.toMillis(60));
        }
        return closed.get() + " of " + noRead + " never-reading clients closed by the server within 30 s";
    }

    private static boolean honestClientServed(int port) {
        try (Socket s = connect(port, 0)) {
            s.setSoTimeout(10_000);
            byte[] payload = new byte[64];
            Arrays.fill(payload, (byte) 5);
            s.getOutputStream().write(ByteBuffer.allocate(68).putInt(64).put(payload).array());
            DataInputStream in = new DataInputStream(s.getInputStream());
            byte[] reply = new byte[in.readInt()];
            in.readFully(reply);
            return Arrays.equals(reply, payload);
        } catch (IOException e) {
            return false;
        }
    }

    /** A connection from 127.0.0.(2 + i / 20000): many sources stay clear of the ephemeral-port limit. */
    private static Socket connect(int port, int i) throws IOException {
        Socket s = new Socket();
        s.bind(new InetSocketAddress(InetAddress.getByAddress(new byte[] {127, 0, 0, (byte) (2 + i / 20_000)}), 0));
        s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
        return s;
    }

    /** The server's used heap right after a full GC (jcmd), in MiB; -1 if jcmd is not there or fails. */
    private static long liveHeapMib(Process server) {
        try {
            return Processes.liveHeapKib(server.pid()) / 1024;
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // best effort
        }
    }
}
