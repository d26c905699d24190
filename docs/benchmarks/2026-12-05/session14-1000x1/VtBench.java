import java.util.concurrent.*;
import java.util.concurrent.atomic.*;
import java.util.concurrent.locks.LockSupport;

public class VtBench {
    static final AtomicLong sink = new AtomicLong();
    static volatile long blackhole;
    static void work(int i) { blackhole += i; }

    // Worker reused: parks waiting for a task.
    static final class Worker implements Runnable {
        volatile Runnable task;
        Thread thread;
        final ConcurrentLinkedDeque<Worker> idle;
        Worker(ConcurrentLinkedDeque<Worker> idle) { this.idle = idle; }
        public void run() {
            while (true) {
                Runnable t;
                while ((t = task) == null) LockSupport.park();
                task = null;
                t.run();
                idle.push(this);
            }
        }
    }

    public static void main(String[] a) throws Exception {
        String mode = a[0]; int batch = Integer.parseInt(a[1]); int rounds = Integer.parseInt(a[2]);
        for (int rep = 0; rep < 5; rep++) {
            long t0 = System.nanoTime();
            Thread p = Thread.ofVirtual().start(() -> {
                ConcurrentLinkedDeque<Worker> idle = new ConcurrentLinkedDeque<>();
                AtomicInteger done = new AtomicInteger();
                for (int r = 0; r < rounds; r++) {
                    done.set(0);
                    for (int i = 0; i < batch; i++) {
                        final int k = i;
                        Runnable task = () -> { work(k); done.incrementAndGet(); };
                        if (mode.equals("constname")) { Thread.ofVirtual().name("stcp-conn-123456").unstarted(task).start(); } else if (mode.equals("bare")) { Thread.startVirtualThread(task); } else if (mode.equals("start")) {
                            Thread.ofVirtual().name("stcp-conn-" + (100000L + k)).unstarted(task).start();
                        } else {
                            Worker w = idle.poll();
                            if (w == null) { w = new Worker(idle); w.thread = Thread.ofVirtual().unstarted(w); w.task = task; w.thread.start(); }
                            else { w.task = task; LockSupport.unpark(w.thread); }
                        }
                    }
                    while (done.get() < batch) Thread.yield();
                }
            });
            p.join();
            long ns = System.nanoTime() - t0;
            System.out.printf("%s batch=%d: %.1f ns/task%n", mode, batch, ns / (double) (batch * (long) rounds));
        }
    }
}
