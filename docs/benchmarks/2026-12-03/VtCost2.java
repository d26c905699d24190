import java.util.concurrent.atomic.*;
public class VtCost2 {
    static final AtomicLong done = new AtomicLong();
    static final Thread.UncaughtExceptionHandler H = (t, e) -> {};
    public static void main(String[] a) throws Exception {
        int batch = 16; String mode = a[0];
        final String cached = "stcp-conn-12345";
        Runnable task = () -> done.incrementAndGet();
        long total = 0;
        for (int round = 0; round < 8; round++) {
            long n = 2_000_000;
            long c0 = ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
            Thread p = Thread.ofVirtual().start(() -> {
                for (long i = 0; i < n; i += batch) {
                    for (int j = 0; j < batch; j++) {
                        switch (mode) {
                            case "name" -> Thread.ofVirtual().name("stcp-conn-" + (12340 + j)).uncaughtExceptionHandler(H).start(task);
                            case "cached" -> Thread.ofVirtual().name(cached).uncaughtExceptionHandler(H).start(task);
                            case "none" -> Thread.ofVirtual().uncaughtExceptionHandler(H).start(task);
                            case "unstarted" -> Thread.ofVirtual().unstarted(task).start();
                        }
                    }
                    Thread.yield();
                }
            });
            p.join();
            while (done.get() < n * (round + 1)) Thread.yield();
            long c1 = ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
            if (round >= 3) total += c1 - c0;
            if (round == 7) System.out.printf("%s: %.0f ns cpu per start (rounds 4-8)%n", mode, total / (5.0 * n));
        }
    }
}
