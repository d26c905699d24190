import io.stcp.cluster.ClusterBus;
import io.stcp.cluster.ClusterConfig;
import io.stcp.cluster.RedisBus;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/** args: redisPort threads callsPerThread. Prints one line: threads, calls, ns/call (wall), calls/s, bytes allocated per call (all threads). */
public class CutoffBench {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        int threads = Integer.parseInt(args[1]);
        int calls = Integer.parseInt(args[2]);
        String label = args[3];
        ClusterConfig config = ClusterConfig.builder("bench").redisAddress("127.0.0.1:" + port).keyPrefix("bench:")
                .poolSize(8).build();
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (RedisBus bus = RedisBus.create(config)) {
            bus.subscribe("bench", new ClusterBus.Listener() {
                public void onMessage(byte[] m) { }
                public void onConnected() { }
                public void onDisconnected(String r) { }
            });
            long until = System.nanoTime() + 10_000_000_000L;
            while (!bus.isConnected() && System.nanoTime() < until) {
                Thread.sleep(10);
            }
            byte[] payload = new byte[64];
            List<String> to = List.of("nobody");
            // warm-up: same shape as the measured part
            run(bus, to, payload, threads, Math.max(2000, calls / 2));
            com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
            long c0 = os.getProcessCpuTime();
            long a0 = mx.getTotalThreadAllocatedBytes();
            long t0 = System.nanoTime();
            run(bus, to, payload, threads, calls);
            long t1 = System.nanoTime();
            long a1 = mx.getTotalThreadAllocatedBytes();
            long c1 = os.getProcessCpuTime();
            long total = (long) threads * calls;
            System.out.printf("%s threads=%d calls=%d nsPerCall=%d callsPerSec=%d allocBytesPerCall=%d cpuNsPerCall=%d%n", label, threads, total,
                    (t1 - t0) / total, total * 1_000_000_000L / (t1 - t0), (a1 - a0) / total, (c1 - c0) / total);
        }
    }

    static void run(RedisBus bus, List<String> to, byte[] payload, int threads, int calls) throws Exception {
        CountDownLatch done = new CountDownLatch(threads);
        AtomicLong failed = new AtomicLong();
        for (int t = 0; t < threads; t++) {
            Thread.ofPlatform().start(() -> {
                for (int i = 0; i < calls; i++) {
                    try {
                        bus.publish(to, payload);
                    } catch (RuntimeException e) {
                        failed.incrementAndGet();
                    }
                }
                done.countDown();
            });
        }
        done.await();
        if (failed.get() > 0) {
            throw new IllegalStateException(failed + " calls failed");
        }
    }
}
