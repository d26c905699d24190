package io.stcp.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Runs the servers alternately (A B C A B C …) under the same loads from the same load generator,
 * each in its own JVM, the server pinned to CPU 0 and the load generator to CPU 1, and writes the
 * runs, the medians, the ratios to Netty epoll and charts.
 *
 * <p>Per load: the rounds, untraced, each opening with the generator's ceiling (its run against
 * the C echo server, see {@link CeilingCommand}) and then every server; then one short run per
 * server with its system calls counted by perf, whose throughput and CPU figures are not used
 * (tracing slows the server). At the end, the ceiling's median is compared with the fastest
 * server's median per load and a ratio below {@value Summary#MIN_HEADROOM} is flagged: there the
 * generator, not only the servers, sets the pace. Runs during which other processes used more than
 * {@value Summary#MAX_OTHERS_BUSY} of a core are flagged as disturbed.
 */
@Command(name = "compare", mixinStandardHelpOptions = true,
        description = "Alternate stcp and Netty under identical loads; write CSV, markdown and charts.")
final class CompareCommand implements Callable<Integer> {
    /** The classic four loads with 64-byte frames, then 16 KiB and 1 MiB frames. */
    static final String DEFAULT_LOADS =
            "100x1,1000x1,100x16,1000x16,100x1@16384,100x4@16384,100x1@1048576,100x4@1048576";

    @Option(names = "--servers", split = ",", defaultValue = "netty-epoll,netty-nio,stcp,stcp-jdk",
            description = "Servers, in run order: stcp uses its epoll transport, stcp-jdk the JDK's"
                    + " (default: ${DEFAULT-VALUE}).")
    List<String> servers;

    @Option(names = "--loads", split = ",", defaultValue = DEFAULT_LOADS,
            description = "Loads CONNECTIONSxIN_FLIGHT[@FRAME_SIZE], the frame size in bytes with its 4-byte header"
                    + " (default: ${DEFAULT-VALUE}).")
    List<String> loads;

    @Option(names = "--rounds", defaultValue = "3", description = "Rounds of every server per load (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--duration", defaultValue = "10s", description = "Measured window per run (default: ${DEFAULT-VALUE}).")
    String duration;

    @Option(names = "--warmup", defaultValue = "8s",
            description = "Warm-up per run; the JIT is slow on one pinned core (default: ${DEFAULT-VALUE}).")
    String warmup;

    @Option(names = "--settle", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Ask each server's JVM for a full collection (jcmd GC.run) half-way through the warm-up, every"
                    + " server alike: what it allocated starting up and its connections' objects are then old, as in a"
                    + " server that has run for minutes, not copied by every young collection of the window"
                    + " (default: ${DEFAULT-VALUE}).")
    boolean settle;

    @Option(names = "--size", defaultValue = "64", description = "Frame size incl. header where a load gives none"
            + " (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--pin", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Pin server to CPU 0 and load generator to CPU 1 when possible (default: ${DEFAULT-VALUE}).")
    boolean pin;

    @Option(names = "--ceiling", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Measure the generator's ceiling against the C echo server in every round (default: ${DEFAULT-VALUE}).")
    boolean ceiling;

    @Option(names = "--ceiling-duration", defaultValue = "5s", description = "Its window, after 1s of warm-up"
            + " (default: ${DEFAULT-VALUE}).")
    String ceilingDuration;

    @Option(names = "--syscalls", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Count each server's system calls with perf in a separate run per load (default: ${DEFAULT-VALUE}).")
    boolean syscalls;

    @Option(names = "--syscall-duration", defaultValue = "3s", description = "The traced window of that run, after the"
            + " usual warm-up (default: ${DEFAULT-VALUE}).")
    String syscallDuration;

    @Mixin
    Generator.Options generatorOptions;

    @Option(names = "--stcp-jar", defaultValue = "stcp-examples/target/stcp-examples.jar")
    Path stcpJar;

    @Option(names = "--bench-jar", defaultValue = "stcp-bench/target/stcp-bench.jar")
    Path benchJar;

    @Option(names = "--stcp-jvm-opts", defaultValue = "", description = "Extra JVM options for the stcp servers.")
    String stcpJvmOpts;

    @Option(names = "--jvm-opts", defaultValue = "", description = "Extra JVM options for every server, Netty's"
            + " too, e.g. -XX:+UseG1GC (a JVM pinned to one CPU picks the Serial collector by itself).")
    String jvmOpts;

    @Mixin
    NettyEchoOptions nettyOptions;

    @Option(names = "--stcp-variant", description = "An stcp server with extra echo arguments, NAME=ARGS, usable in"
            + " --servers, e.g. stcp-queued=--no-write-inline, or a jar: stcp-old=@path/to/stcp-examples.jar, or both:"
            + " \"stcp-old-queued=@path/to/stcp-examples.jar --no-write-inline\".")
    Map<String, String> variants = new LinkedHashMap<>();

    /** Variants every run knows; --stcp-variant adds to them. */
    private static final Map<String, String> BUILT_IN_VARIANTS = Map.of("stcp-jdk", "--transport jdk",
            "stcp-metrics", "--metrics-port " + MetricsScraper.PORT);

    @Option(names = "--scrape-interval", defaultValue = "1s", description = "How often a variant whose arguments hold "
            + MetricsScraper.PORT + " (a free port, put there) is scraped over HTTP at /metrics during its runs,"
            + " e.g. stcp-metrics (default: ${DEFAULT-VALUE}).")
    String scrapeInterval;

    @Option(names = "--out", defaultValue = "bench-results", description = "Output folder (default: ${DEFAULT-VALUE}).")
    Path out;

    private Generator generator;
    private boolean pinning;
    private Path dir;

    private String variant(String server) {
        return variants.getOrDefault(server, BUILT_IN_VARIANTS.getOrDefault(server, ""));
    }

    /** Netty's echo; every other server is stcp's, whatever a variant is named. */
    private static boolean isNetty(String server) {
        return server.equals("netty-epoll") || server.equals("netty-nio");
    }

    static String timestamp() {
        return LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
    }

    @Override
    public Integer call() throws Exception {
        nettyOptions.arguments(); // refuses what is out of range before any run
        List<Load> parsedLoads = loads.stream().map(l -> Load.parse(l, size)).toList();
        List<String> labels = parsedLoads.stream().map(Load::label).toList();
        List<String> runnable = new ArrayList<>();
        for (String s : servers) {
            if (!isNetty(s) && !Files.exists(jarOf(s))) {
                System.err.println("warning: " + jarOf(s) + " not found, skipping " + s + " (build stcp-examples first)");
            } else if (!List.of("stcp", "netty-epoll", "netty-nio").contains(s) && variant(s).isEmpty()) {
                throw new IllegalArgumentException("--servers: " + s
                        + " (expected: stcp, netty-epoll, netty-nio, or a --stcp-variant name)");
            } else {
                runnable.add(s);
            }
        }
        generator = generatorOptions.generator(System.out);
        Path echo = ceiling ? generatorOptions.echoServer().orElse(null) : null;
        if (ceiling && echo == null) {
            System.out.println("WARNING: the C echo server " + generatorOptions.nativeDir.resolve("echo") + " is missing"
                    + " (built with gcc like the C generator): the generator's ceiling is not measured.");
        }
        boolean countSyscalls = syscalls && Processes.canCountSyscalls();
        if (syscalls && !countSyscalls) {
            System.out.println("warning: perf cannot count system calls here (perf stat -e raw_syscalls:sys_enter"
                    + " failed): no syscall runs, column NaN.");
        }
        pinning = pin && Processes.canPin();
        dir = out.resolve(timestamp());
        Files.createDirectories(dir);
        System.out.printf("compare: servers %s, loads %s, %d rounds, %s + %s warm-up, %s generator, pinned: %s,"
                + " settled: %s%n", runnable, labels, rounds, duration, warmup, generator.name(), pinning, settle);
        System.out.printf("results in %s%n", dir);

        List<Summary.Run> ceilings = new ArrayList<>();
        List<Summary.Run> runs = new ArrayList<>();
        List<Summary.Run> syscallRuns = new ArrayList<>();
        for (Load load : parsedLoads) {
            for (int round = 1; round <= rounds; round++) {
                if (echo != null) {
                    try {
                        Generator.Outcome o = CeilingCommand.measure(generator, echo, load, round, "1s",
                                ceilingDuration, pinning, dir);
                        appendRun(Summary.CEILING, load, Integer.toString(round), o);
                        Summary.Run c = Summary.Run.of(Summary.CEILING, load.label(), round, o);
                        ceilings.add(c);
                        report(c, "ceiling");
                    } catch (IOException e) {
                        System.out.println("  warning: no ceiling for " + load.label() + ": " + e.getMessage());
                    }
                }
                for (String server : runnable) {
                    Summary.Run r = runOnce(server, load, round, false);
                    runs.add(r);
                    report(r, "round " + round);
                }
            }
            for (String server : countSyscalls ? runnable : List.<String>of()) {
                Summary.Run r = runOnce(server, load, 0, true);
                syscallRuns.add(r);
                System.out.printf(Locale.ROOT, "  %-14s syscalls %-11s %6.2f per message (traced run, figures not used)%n",
                        load.label(), server, r.syscallsPerMessage());
            }
        }
        List<Summary.Row> rows = Summary.rows(runs, syscallRuns, labels, runnable, "netty-epoll");
        List<Summary.Headroom> headroom = Summary.headroom(rows, ceilings, labels);
        String md = Summary.markdown(rows, "netty-epoll")
                + (headroom.isEmpty() ? "" : "\nGenerator ceiling (median of its runs against the C echo server) ÷"
                + " fastest server's median:\n\n" + Summary.headroomMarkdown(headroom));
        Files.writeString(dir.resolve("summary.md"), md);
        writeSummaryCsv(rows, headroom);
        Charts.write(rows, labels, runnable, dir);
        System.out.println();
        System.out.println(md);
        for (Summary.Headroom h : headroom) {
            if (!h.enough()) {
                System.out.printf(Locale.ROOT, "WARNING: at %s the generator's ceiling is %.2fx the fastest server's"
                        + " throughput (%s), below %.1fx: the generator may have set the pace. %s used %.0f %% of its"
                        + " core; near 100 %% it was the limit itself, and CPU per message compares the servers.%n",
                        h.load(), h.ratio(), h.fastest(), Summary.MIN_HEADROOM, h.fastest(), 100 * h.fastestServerBusy());
            }
        }
        long disturbed = java.util.stream.Stream.of(ceilings, runs).flatMap(List::stream).filter(Summary.Run::disturbed)
                .count();
        if (disturbed > 0) {
            System.out.printf(Locale.ROOT, "WARNING: other processes used more than %.1f of a core during %d runs"
                    + " (marked DISTURBED above; runs.csv, column others_busy): their figures are unreliable.%n",
                    Summary.MAX_OTHERS_BUSY, disturbed);
        }
        return 0;
    }

    private static void report(Summary.Run r, String what) {
        System.out.printf(Locale.ROOT, "  %-14s %-8s %-11s %,12.0f msg/s  p99 %,9d µs  server CPU %6.2f µs/msg"
                        + "  busy: server %s, generator %s  errors %d%s%n", r.load(), what, r.server(),
                r.msgsPerSecond(), r.p99Micros(), r.cpuMicrosPerMessage(), percent(r.serverBusy()),
                percent(r.loadgenBusy()), r.errors(),
                r.disturbed() ? String.format(Locale.ROOT, "  DISTURBED (others used %.2f cores)", r.othersBusy()) : "");
    }

    private static String percent(double share) {
        return Double.isNaN(share) ? "  n/a" : String.format(Locale.ROOT, "%3.0f %%", 100 * share);
    }

    private void writeSummaryCsv(List<Summary.Row> rows, List<Summary.Headroom> headroom) throws IOException {
        StringBuilder sc = new StringBuilder(
                "load,server,median_msgs_per_s,median_p99_us,ratio_to_netty_epoll,median_server_cpu_us_per_msg,"
                        + "cpu_ratio_netty_epoll_over_server,median_server_syscalls_per_msg,median_loadgen_busy,runs\n");
        rows.forEach(r -> sc.append(String.format(Locale.ROOT, "%s,%s,%.1f,%d,%.3f,%.3f,%.3f,%.3f,%.3f,%d%n",
                r.load(), r.server(), r.medianMsgsPerSecond(), r.medianP99Micros(), r.ratio(),
                r.medianCpuMicrosPerMessage(), r.cpuRatio(), r.medianSyscallsPerMessage(), r.medianLoadgenBusy(),
                r.runs())));
        Files.writeString(dir.resolve("summary.csv"), sc);
        StringBuilder hc = new StringBuilder("load,ceiling_msgs_per_s,ceiling_loadgen_busy,fastest_server,"
                + "fastest_median_msgs_per_s,ceiling_over_fastest\n");
        headroom.forEach(h -> hc.append(String.format(Locale.ROOT, "%s,%.1f,%.3f,%s,%.1f,%.3f%n", h.load(),
                h.ceilingMsgsPerSecond(), h.ceilingLoadgenBusy(), h.fastest(), h.fastestMsgsPerSecond(), h.ratio())));
        Files.writeString(dir.resolve("headroom.csv"), hc);
    }

    /**
     * One run of {@code server} under {@code load}: measured and untraced, or (with
     * {@code countSyscalls}) the separate traced run for the system-call count. A generator that
     * fails gives a run with no messages and one error; a server that does not start ends the
     * comparison.
     */
    private Summary.Run runOnce(String server, Load load, int round, boolean countSyscalls)
            throws IOException, InterruptedException {
        int port = Processes.freePort();
        String addr = "127.0.0.1:" + port;
        String tag = load.label() + "-" + server + "-" + (countSyscalls ? "syscalls" : Integer.toString(round));
        int metricsPort = variant(server).contains(MetricsScraper.PORT) ? Processes.freePort() : -1;
        Process p = Processes.start(Processes.pinned(pinning ? 0 : -1, serverCommand(server, addr, load, metricsPort)),
                dir.resolve("server-" + tag + ".log"));
        MetricsScraper scraper = null;
        try {
            Processes.awaitPort(port, p);
            if (metricsPort > 0) {
                scraper = MetricsScraper.start(metricsPort, io.stcp.Durations.parse(scrapeInterval));
            }
            Thread settler = settle ? Thread.ofVirtual().start(() -> settle(serverPid(p), server)) : null;
            Generator.Outcome o = generator.run(addr, load, warmup, countSyscalls ? syscallDuration : duration,
                    serverPid(p), countSyscalls, pinning ? 1 : -1, dir.resolve("load-" + tag + ".log"));
            if (settler != null) {
                settler.join();
            }
            if (scraper != null && scraper.scrapes() == 0) {
                System.out.println("  warning: " + server + " was never scraped: " + scraper.lastError());
            }
            appendRun(server, load, countSyscalls ? "syscalls" : Integer.toString(round), o);
            return Summary.Run.of(server, load.label(), round, o);
        } catch (IOException e) {
            System.out.println("  warning: " + e.getMessage());
            return Summary.Run.failed(server, load.label(), round);
        } finally {
            if (scraper != null) {
                scraper.close();
            }
            Processes.stop(p);
        }
    }

    /** Half-way through the warm-up, a full collection of the server's JVM; a warning if it fails. */
    private void settle(long pid, String server) {
        try {
            Thread.sleep(io.stcp.Durations.parse(warmup).dividedBy(2));
            Processes.jcmd(pid, "GC.run");
        } catch (IOException e) {
            System.out.println("  warning: " + server + " not settled: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The server's command line; the Netty echo gets the cumulator a Netty user would choose for the load. */
    List<String> serverCommand(String server, String addr, Load load, int metricsPort) {
        List<String> cmd = new ArrayList<>(List.of(Processes.java()));
        Processes.addOptions(cmd, jvmOpts);
        if (!isNetty(server)) {
            Processes.addOptions(cmd, stcpJvmOpts);
            cmd.addAll(List.of("-jar", jarOf(server).toString(), "echo", "--addr", addr));
            String extra = echoArguments(server);
            if (!extra.isBlank()) {
                cmd.addAll(List.of(extra.replace(MetricsScraper.PORT, Integer.toString(metricsPort)).trim().split("\\s+")));
            }
        } else {
            cmd.addAll(List.of("--enable-native-access=ALL-UNNAMED", "-cp", benchJar.toString(), "io.stcp.bench.BenchMain",
                    "netty-echo", "--addr", addr, "--transport", server.substring("netty-".length()),
                    "--cumulator", NettyEchoServer.cumulatorFor(load.size())));
            cmd.addAll(nettyOptions.arguments());
        }
        return cmd;
    }

    /** Appends one run to runs.csv (header first if new). */
    private void appendRun(String server, Load load, String round, Generator.Outcome o) throws IOException {
        Path csv = dir.resolve("runs.csv");
        StringBuilder sb = new StringBuilder();
        if (!Files.exists(csv)) {
            sb.append("load,server,round,generator,in_flight,frame_bytes,")
                    .append(io.stcp.loadgen.LoadResult.csvHeader())
                    .append(",loadgen_busy,others_busy,conn_msgs_min,conn_msgs_max\n");
        }
        sb.append(String.format(Locale.ROOT, "%s,%s,%s,%s,%d,%d,%s,%.3f,%.3f,%d,%d%n", load.label(), server, round,
                generator.name(), load.inFlight(), load.size(), o.result().csvRow(), o.loadgenBusy(), o.othersBusy(),
                o.connMsgsMin(), o.connMsgsMax()));
        Files.writeString(csv, sb, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    /** The pid of the server JVM: the process itself, or the java child of taskset. */
    private static long serverPid(Process p) {
        return p.children().findFirst().map(ProcessHandle::pid).orElse(p.pid());
    }

    /** A variant's jar: {@code @JAR}, alone or before its echo arguments; else the --stcp-jar. */
    private Path jarOf(String server) {
        String v = variant(server).trim();
        return v.startsWith("@") ? Path.of(v.substring(1).split("\\s+", 2)[0]) : stcpJar;
    }

    /** A variant's echo arguments: all of it, or what follows its {@code @JAR}. */
    private String echoArguments(String server) {
        String v = variant(server).trim();
        if (!v.startsWith("@")) {
            return v;
        }
        String[] jarAndArgs = v.split("\\s+", 2);
        return jarAndArgs.length == 2 ? jarAndArgs[1] : "";
    }
}
