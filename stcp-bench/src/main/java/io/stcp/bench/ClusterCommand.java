package io.stcp.bench;

import io.stcp.ConnectionReader;
import io.stcp.ConnectionRegistry;
import io.stcp.Fanout;
import io.stcp.SendResult;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import io.stcp.cluster.ClusterConfig;
import io.stcp.cluster.ClusterFanout;
import io.stcp.cluster.ClusterStats;
import io.stcp.cluster.ClusterUnavailableException;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Cross-node delivery next to local delivery, in one process on loopback: a redis-server (started
 * here, no persistence), two nodes A and B (each a TcpServer, a registry and a ClusterFanout with
 * its own Redis connections), and one client connected to A as user {@code u}. A message for
 * {@code u} sent through A's cluster object is local (A's registry, no Redis); sent through B's,
 * it goes B → presence lookup and PUBLISH in Redis → A's subscription → A's registry → the socket.
 *
 * <p>Latency: one message at a time, each sent when the previous one has arrived; the time from
 * just before the send call to the client reading the frame (one clock: same process). Throughput:
 * {@code --senders} virtual threads send {@code --throughput-messages} in all, as fast as the calls
 * return; the time until the client has read them all.
 */
@Command(name = "cluster", mixinStandardHelpOptions = true,
        description = "stcp-cluster: cross-node delivery through Redis next to local delivery (latency and throughput).")
final class ClusterCommand implements Callable<Integer> {

    @Option(names = "--redis-server", defaultValue = "redis-server", description = "The redis-server executable (default: ${DEFAULT-VALUE}).")
    String redisServer;

    @Option(names = "--size", defaultValue = "64", description = "Message size in bytes, at least 16 (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--messages", defaultValue = "20000", description = "Latency samples per path (default: ${DEFAULT-VALUE}).")
    int messages;

    @Option(names = "--warmup", defaultValue = "10000", description = "Messages per path before measuring (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--throughput-messages", defaultValue = "200000", description = "Messages per throughput run (default: ${DEFAULT-VALUE}).")
    int throughputMessages;

    @Option(names = "--senders", defaultValue = "8", description = "Sending threads in the throughput runs (default: ${DEFAULT-VALUE}).")
    int senders;

    private final Histogram latency = new Histogram(TimeUnit.SECONDS.toNanos(10), 3);
    private final Semaphore arrived = new Semaphore(0);
    private final AtomicLong received = new AtomicLong();
    private volatile boolean recording;

    @Override
    public Integer call() throws Exception {
        if (size < 16) {
            throw new IllegalArgumentException("--size: " + size + " (expected: >= 16)");
        }
        Path dir = Files.createTempDirectory("stcp-cluster-bench");
        int redisPort = Processes.freePort();
        Process redis = Processes.start(List.of(redisServer, "--port", Integer.toString(redisPort), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", dir.toString()), dir.resolve("redis.log"));
        List<AutoCloseable> open = new ArrayList<>();
        try {
            Processes.awaitPort(redisPort, redis);
            ClusterConfig.Builder base = ClusterConfig.builder("a").redisAddress("127.0.0.1:" + redisPort)
                    .keyPrefix("bench:").inboundQueue(1 << 20).poolSize(16);
            ConnectionRegistry ra = ConnectionRegistry.create();
            ConnectionRegistry rb = ConnectionRegistry.create();
            ClusterFanout a = ClusterFanout.start(base.nodeId("a").build(), ra);
            open.add(a);
            ClusterFanout b = ClusterFanout.start(base.nodeId("b").build(), rb);
            open.add(b);
            TcpServer sa = server(a, ra);
            open.add(sa);
            TcpServer sb = server(b, rb);
            open.add(sb);
            Socket client = new Socket("127.0.0.1", sa.address().getPort());
            open.add(client);
            client.setTcpNoDelay(true);
            DataOutputStream out = new DataOutputStream(client.getOutputStream());
            DataInputStream in = new DataInputStream(new BufferedInputStream(client.getInputStream(), 1 << 16));
            byte[] login = "user:u".getBytes(StandardCharsets.UTF_8);
            out.writeInt(login.length);
            out.write(login);
            out.flush();
            in.readFully(new byte[in.readInt()]); // ok
            Thread reader = Thread.ofPlatform().name("bench-client").daemon().start(() -> read(in));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (b.sendToUser("u", message(-1)).forwarded() == 0) { // until B sees u on A
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("node b never saw user u on node a");
                }
                Thread.sleep(10); // a benchmark's set-up poll, not a test
            }
            System.out.printf("stcp-cluster delivery, %d-byte messages, one client; redis-server %s, JDK %s, %d CPUs%n",
                    size, redisVersion(redisPort), Runtime.version(), Runtime.getRuntime().availableProcessors());
            System.out.printf("%-12s %10s %10s %10s %10s %14s %8s%n", "path", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "msgs/s", "lost");
            for (int round = 0; round < 2; round++) { // the first round is a warm-up for the JIT
                for (Fanout f : List.of(a, b)) {
                    String name = f == a ? "local (A)" : "cross (B→A)";
                    measureLatency(f);
                    double rate = measureThroughput(f);
                    if (round == 1) {
                        System.out.printf("%-12s %10.1f %10.1f %10.1f %10.1f %,14.0f %8d%n", name, us(50), us(90), us(99), us(99.9),
                                rate, lost);
                    }
                }
            }
            ClusterStats sa2 = a.stats();
            ClusterStats sb2 = b.stats();
            System.out.printf("node a: received %,d delivered %,d lost %d; node b: published %,d lost %d%n",
                    sa2.received(), sa2.delivered(), sa2.lost(), sb2.published(), sb2.lost());
            client.close();
            reader.join(5000);
            return 0;
        } finally {
            for (AutoCloseable c : open.reversed()) {
                try {
                    c.close();
                } catch (Exception e) {
                    System.err.println("closing " + c + ": " + e);
                }
            }
            Processes.stop(redis);
        }
    }

    private long lost;

    private double us(double percentile) {
        return latency.getValueAtPercentile(percentile) / 1000.0;
    }

    private void measureLatency(Fanout f) throws InterruptedException {
        latency.reset();
        for (int i = 0; i < warmup + messages; i++) {
            recording = i >= warmup;
            f.sendToUser("u", message(System.nanoTime()));
            if (!arrived.tryAcquire(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("a message did not arrive within 10s");
            }
        }
        recording = false;
    }

    private double measureThroughput(Fanout f) throws InterruptedException {
        long before = received.get();
        long start = System.nanoTime();
        AtomicLong failed = new AtomicLong();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < senders; t++) {
            int n = throughputMessages / senders;
            threads.add(Thread.ofVirtual().start(() -> {
                for (int i = 0; i < n; i++) {
                    try {
                        SendResult r = f.sendToUser("u", message(0));
                        failed.addAndGet(r.refused());
                    } catch (ClusterUnavailableException e) {
                        failed.incrementAndGet();
                    }
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        long expected = (long) (throughputMessages / senders) * senders;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (received.get() - before < expected - failed.get() && System.nanoTime() < deadline) {
            Thread.sleep(1); // not a spin: it would take a core from the delivery on a small machine
        }
        long got = received.get() - before;
        double seconds = (System.nanoTime() - start) / 1e9;
        lost = expected - got;
        arrived.drainPermits();
        return got / seconds;
    }

    private byte[] message(long sentNanos) {
        return ByteBuffer.allocate(4 + size).putInt(size).putLong(sentNanos).array();
    }

    private void read(DataInputStream in) {
        try {
            while (true) {
                int len = in.readInt();
                long sent = in.readLong();
                in.skipNBytes(len - 8);
                if (sent == -1) {
                    continue; // set-up probe
                }
                received.incrementAndGet();
                if (sent != 0) {
                    if (recording) {
                        latency.recordValue(Math.min(System.nanoTime() - sent, latency.getHighestTrackableValue()));
                    }
                    arrived.release();
                }
            }
        } catch (IOException e) {
            // closed at the end
        }
    }

    private static TcpServer server(ClusterFanout cluster, ConnectionRegistry registry) throws IOException {
        ConnectionReader reader = (sender, conn) -> {
            String cmd = new String(conn.readBytes(conn.readInt()), StandardCharsets.UTF_8);
            if (cmd.startsWith("user:")) {
                cluster.bindUser(sender, cmd.substring(5));
                sender.put(ByteBuffer.allocate(6).putInt(2).put((byte) 'o').put((byte) 'k').array());
            }
        };
        return TcpServer.create(ServerConfig.builder().address("127.0.0.1:0").build(), reader, SenderFactory.queue(1 << 20))
                .registry(registry).start();
    }

    private static String redisVersion(int port) {
        try (redis.clients.jedis.Jedis j = new redis.clients.jedis.Jedis("127.0.0.1", port)) {
            for (String line : j.info("server").split("\r\n")) {
                if (line.startsWith("redis_version:")) {
                    return line.substring("redis_version:".length());
                }
            }
        } catch (RuntimeException e) {
            return "?";
        }
        return "?";
    }
}
