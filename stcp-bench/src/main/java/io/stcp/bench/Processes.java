package io.stcp.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Starting, pinning, awaiting and stopping the child JVMs of a benchmark. */
final class Processes {
    private static final Pattern USED = Pattern.compile("used (\\d+)K");

    private Processes() {}

    /** The java executable running this process, so children use the same JDK. */
    static String java() {
        return ProcessHandle.current().info().command().orElse("java");
    }

    /** Adds {@code options}, JVM options separated by white space, to {@code command}; none if blank. */
    static void addOptions(List<String> command, String options) {
        if (!options.isBlank()) {
            command.addAll(List.of(options.trim().split("\\s+")));
        }
    }

    static boolean canPin() {
        return Runtime.getRuntime().availableProcessors() >= 2 && Files.isExecutable(Path.of("/usr/bin/taskset"));
    }

    /**
     * Whether Linux perf can count system calls here: {@code perf stat -e raw_syscalls:sys_enter}
     * on a short command succeeds (needs perf, tracefs and the permission to trace).
     */
    static boolean canCountSyscalls() {
        try {
            Process p = new ProcessBuilder("perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "--", "true")
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return false;
            }
            return p.exitValue() == 0 && out.lines().anyMatch(l -> l.matches("\\d+,.*raw_syscalls:sys_enter.*"));
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** {@code command}, prefixed with {@code taskset -c cpu} when {@code cpu >= 0}. */
    static List<String> pinned(int cpu, List<String> command) {
        List<String> c = new ArrayList<>();
        if (cpu >= 0) {
            c.addAll(List.of("taskset", "-c", Integer.toString(cpu)));
        }
        c.addAll(command);
        return c;
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    static Process start(List<String> command, Path log) throws IOException {
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /** Waits until {@code port} accepts connections, at most 30s. */
    static void awaitPort(int port, Process server) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            if (!server.isAlive()) {
                throw new IOException("server exited with " + server.exitValue() + " before listening on " + port);
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            } catch (IOException notYet) {
                TimeUnit.MILLISECONDS.sleep(100);
            }
        }
        throw new IOException("server did not listen on " + port + " within 30s");
    }

    /**
     * {@code jcmd PID COMMAND} with the JDK running this process: its output. The output goes to a
     * file, not a pipe, so a jcmd that never ends is killed after a minute instead of blocking a read.
     *
     * @throws IOException if jcmd is missing, fails, or does not end within a minute
     */
    static String jcmd(long pid, String command) throws IOException, InterruptedException {
        Path jcmd = Path.of(java()).resolveSibling("jcmd");
        Path out = Files.createTempFile("stcp-jcmd", ".txt");
        try {
            Process c = new ProcessBuilder(jcmd.toString(), Long.toString(pid), command).redirectErrorStream(true)
                    .redirectOutput(out.toFile()).start();
            if (!c.waitFor(60, TimeUnit.SECONDS)) {
                c.destroyForcibly();
                throw new IOException("jcmd " + pid + " " + command + " did not end within a minute");
            }
            String text = Files.readString(out);
            if (c.exitValue() != 0) {
                throw new IOException("jcmd " + pid + " " + command + " exited with " + c.exitValue() + ": " + text.strip());
            }
            return text;
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /**
     * The used heap of JVM {@code pid} right after a full collection (jcmd), in KiB: its live heap.
     * The generations' "used" figures of {@code GC.heap_info} are summed (one for G1, young and old
     * for Serial and Parallel; the figures after "Metaspace" are not the heap).
     *
     * @throws IOException if jcmd fails or its answer has no heap figure in KiB (ZGC's are in MiB)
     */
    static long liveHeapKib(long pid) throws IOException, InterruptedException {
        jcmd(pid, "GC.run");
        String info = jcmd(pid, "GC.heap_info");
        int metaspace = info.indexOf("Metaspace");
        Matcher m = USED.matcher(metaspace < 0 ? info : info.substring(0, metaspace));
        long kib = -1;
        while (m.find()) {
            kib = Math.max(kib, 0) + Long.parseLong(m.group(1));
        }
        if (kib < 0) {
            throw new IOException("no heap usage in jcmd " + pid + " GC.heap_info: " + info.strip());
        }
        return kib;
    }

    static void stop(Process p) throws InterruptedException {
        p.destroy();
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
