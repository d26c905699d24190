package io.stcp.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Runs the servers alternately (A B C A B C …) under the same loads from the same load generator,
 * each in its own JVM, the server pinned to CPU 0 and the load generator to CPU 1, and writes the
 * runs, the medians, the ratios to Netty epoll and charts.
 */
@Command(name = "compare", mixinStandardHelpOptions = true,
        description = "Alternate stcp and Netty under identical loads; write CSV, markdown and charts.")
final class CompareCommand implements Callable<Integer> {

    @Option(names = "--servers", split = ",", defaultValue = "netty-epoll,netty-nio,stcp,stcp-jdk",
            description = "Servers, in run order: stcp uses its epoll transport, stcp-jdk the JDK's"
                    + " (default: ${DEFAULT-VALUE}).")
    List<String> servers;

    @Option(names = "--loads", split = ",", defaultValue = "100x1,1000x1,100x16,1000x16",
            description = "Loads CONNECTIONSxIN_FLIGHT (default: ${DEFAULT-VALUE}).")
    List<String> loads;

    @Option(names = "--rounds", defaultValue = "3", description = "Rounds of every server per load (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--duration", defaultValue = "10s", description = "Measured window per run (default: ${DEFAULT-VALUE}).")
    String duration;

    @Option(names = "--warmup", defaultValue = "8s",
            description = "Warm-up per run; the JIT is slow on one pinned core (default: ${DEFAULT-VALUE}).")
    String warmup;

    @Option(names = "--size", defaultValue = "64", description = "Frame size incl. header (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--pin", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Pin server to CPU 0 and load generator to CPU 1 when possible (default: ${DEFAULT-VALUE}).")
    boolean pin;

    @Option(names = "--stcp-jar", defaultValue = "stcp-examples/target/stcp-examples.jar")
    Path stcpJar;

    @Option(names = "--loadgen-jar", defaultValue = "stcp-loadgen/target/stcp-loadgen.jar")
    Path loadgenJar;

    @Option(names = "--bench-jar", defaultValue = "stcp-bench/target/stcp-bench.jar")
    Path benchJar;

    @Option(names = "--stcp-jvm-opts", defaultValue = "", description = "Extra JVM options for the stcp servers.")
    String stcpJvmOpts;

    @Option(names = "--stcp-variant", description = "An stcp server with extra echo arguments, NAME=ARGS, usable in"
            + " --servers, e.g. stcp-queued=--no-write-inline, or a jar: stcp-old=@path/to/stcp-examples.jar.")
    java.util.Map<String, String> variants = new java.util.LinkedHashMap<>();

    /** Variants every run knows; --stcp-variant adds to them. */
    private static final java.util.Map<String, String> BUILT_IN_VARIANTS = java.util.Map.of("stcp-jdk", "--transport jdk");

    private String variant(String server) {
        return variants.getOrDefault(server, BUILT_IN_VARIANTS.getOrDefault(server, ""));
    }

    @Option(names = "--out", defaultValue = "bench-results", description = "Output folder (default: ${DEFAULT-VALUE}).")
    Path out;

    @Override
    public Integer call() throws Exception {
        loads.forEach(Summary::parseLoad);
        List<String> runnable = new ArrayList<>();
        for (String s : servers) {
            if (s.startsWith("stcp") && !Files.exists(jarOf(s))) {
                System.err.println("warning: " + jarOf(s) + " not found, skipping " + s + " (build stcp-examples first)");
            } else if (!List.of("stcp", "netty-epoll", "netty-nio").contains(s) && variant(s).isEmpty()) {
                throw new IllegalArgumentException("--servers: " + s
                        + " (expected: stcp, netty-epoll, netty-nio, or a --stcp-variant name)");
            } else {
                runnable.add(s);
            }
        }
        boolean pinning = pin && Processes.canPin();
        Path dir = out.resolve(LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        Files.createDirectories(dir);
        Path csv = dir.resolve("runs.csv");
        System.out.printf("compare: servers %s, loads %s, %d rounds, %s + %s warm-up, %d-byte frames, pinned: %s%n",
                runnable, loads, rounds, duration, warmup, size, pinning);
        System.out.printf("results in %s%n", dir);

        List<Summary.Run> runs = new ArrayList<>();
        for (String load : loads) {
            int[] lf = Summary.parseLoad(load);
            for (int round = 1; round <= rounds; round++) {
                for (String server : runnable) {
                    Summary.Run r = runOnce(server, load, lf, round, pinning, dir, csv);
                    runs.add(r);
                    System.out.printf("  %-8s round %d %-12s %,12.0f msg/s  p99 %,7d µs  server CPU %5.2f µs/msg"
                                    + "  syscalls %4.2f/msg  errors %d%n", load, round, server, r.msgsPerSecond(),
                            r.p99Micros(), r.cpuMicrosPerMessage(), r.syscallsPerMessage(), r.errors());
                }
            }
        }
        List<Summary.Row> rows = Summary.rows(runs, loads, runnable, "netty-epoll");
        String md = Summary.markdown(rows, "netty-epoll");
        Files.writeString(dir.resolve("summary.md"), md);
        StringBuilder sc = new StringBuilder(
                "load,server,median_msgs_per_s,median_p99_us,ratio_to_netty_epoll,median_server_cpu_us_per_msg,"
                        + "cpu_ratio_netty_epoll_over_server,median_server_syscalls_per_msg,runs\n");
        rows.forEach(r -> sc.append(String.format(java.util.Locale.ROOT, "%s,%s,%.1f,%d,%.3f,%.3f,%.3f,%.3f,%d%n",
                r.load(), r.server(), r.medianMsgsPerSecond(), r.medianP99Micros(), r.ratio(),
                r.medianCpuMicrosPerMessage(), r.cpuRatio(), r.medianSyscallsPerMessage(), r.runs())));
        Files.writeString(dir.resolve("summary.csv"), sc);
        Charts.write(rows, loads, runnable, dir);
        System.out.println();
        System.out.println(md);
        return 0;
    }

    private Summary.Run runOnce(String server, String load, int[] lf, int round, boolean pinning, Path dir, Path csv)
            throws IOException, InterruptedException {
        int port = Processes.freePort();
        String addr = "127.0.0.1:" + port;
        List<String> cmd = new ArrayList<>(List.of(Processes.java()));
        if (server.startsWith("stcp")) {
            if (!stcpJvmOpts.isBlank()) {
                cmd.addAll(List.of(stcpJvmOpts.trim().split("\\s+")));
            }
            cmd.addAll(List.of("-jar", jarOf(server).toString(), "echo", "--addr", addr));
            String extra = variant(server);
            if (!extra.isBlank() && !extra.startsWith("@")) {
                cmd.addAll(List.of(extra.trim().split("\\s+")));
            }
        } else {
            cmd.addAll(List.of("--enable-native-access=ALL-UNNAMED", "-cp", benchJar.toString(), "io.stcp.bench.BenchMain",
                    "netty-echo", "--addr", addr, "--transport", server.substring("netty-".length())));
        }
        String tag = load + "-" + server + "-" + round;
        Process p = Processes.start(Processes.pinned(pinning ? 0 : -1, cmd), dir.resolve("server-" + tag + ".log"));
        try {
            Processes.awaitPort(port, p);
            List<String> lg = new ArrayList<>(List.of(Processes.java(), "--enable-native-access=ALL-UNNAMED", "-jar",
                    loadgenJar.toString(), "--addr", addr, "--connections", Integer.toString(lf[0]), "--in-flight",
                    Integer.toString(lf[1]), "--size", Integer.toString(size), "--duration", duration, "--warmup", warmup,
                    "--pipelined", "--quiet", "--csv", csv.toString(), "--label", server + "|" + load + "|" + round,
                    "--server-pid", Long.toString(serverPid(p))));
            Process gen = Processes.start(Processes.pinned(pinning ? 1 : -1, lg), dir.resolve("load-" + tag + ".log"));
            if (!gen.waitFor(10, TimeUnit.MINUTES)) {
                gen.destroyForcibly();
                throw new IOException("load generator did not finish: " + tag);
            }
            return lastRun(csv, server, load, round);
        } finally {
            Processes.stop(p);
        }
    }

    /** The pid of the server JVM: the process itself, or the java child of taskset. */
    private static long serverPid(Process p) {
        return p.children().findFirst().map(ProcessHandle::pid).orElse(p.pid());
    }

    private Path jarOf(String server) {
        String v = variant(server);
        return v.startsWith("@") ? Path.of(v.substring(1)) : stcpJar;
    }

    /** Reads back the row the load generator appended for this run. */
    private static Summary.Run lastRun(Path csv, String server, String load, int round) throws IOException {
        List<String> lines = Files.exists(csv) ? Files.readAllLines(csv) : List.of();
        String label = server + "|" + load + "|" + round;
        for (int i = lines.size() - 1; i > 0; i--) {
            // label,in_flight,pipelined,connections,messages,seconds,msgs_per_s,p50,p90,p99,p999,max,errors,cpu,syscalls
            String[] f = lines.get(i).split(",");
            if (f.length == 15 && f[0].equals(label)) {
                return new Summary.Run(server, load, round, Double.parseDouble(f[6]), Long.parseLong(f[9]),
                        Long.parseLong(f[12]), Double.parseDouble(f[13]), Double.parseDouble(f[14]));
            }
        }
        return new Summary.Run(server, load, round, 0, 0, 1, Double.NaN, Double.NaN); // the load generator failed
    }
}
