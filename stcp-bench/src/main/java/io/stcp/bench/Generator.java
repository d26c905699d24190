package io.stcp.bench;

import io.stcp.loadgen.LoadResult;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Option;

/**
 * The load generator a benchmark drives its servers with, run as a child process: the C one
 * ({@code src/main/c/loadgen.c}, compiled into {@code target/native/loadgen} by the build when gcc
 * is present) or the Java one ({@code stcp-loadgen}). Both take the same options, keep the same
 * closed loop (connect and ping every connection, warm up, measure) and print one
 * {@link LoadResult#resultLine() result line}; the C one also reports how busy its own core was.
 *
 * @param name    "c", "c-busy-poll" or "java"
 * @param command the command up to the load options
 * @param suffix  options after them
 */
record Generator(String name, List<String> command, List<String> suffix) {

    /**
     * What one run of a generator reported: its result, the share of its core it used and the
     * cores every other process used in the window (NaN when the generator does not say), and the
     * fewest and most frames a connection completed in the window (-1 when it does not say: the
     * C generator's fairness line).
     */
    record Outcome(LoadResult result, double loadgenBusy, double othersBusy, long connMsgsMin, long connMsgsMax) {}

    /** The options that choose a generator, shared by the commands (a picocli mixin). */
    static final class Options {
        @Option(names = "--generator", defaultValue = "auto", description = "auto (the C generator when it was built,"
                + " else the Java one, with a warning), c or java (default: ${DEFAULT-VALUE}).")
        String which;

        @Option(names = "--native-dir", defaultValue = "stcp-bench/target/native",
                description = "Where the build put the C generator and echo server (default: ${DEFAULT-VALUE}).")
        Path nativeDir;

        @Option(names = "--loadgen-jar", defaultValue = "stcp-loadgen/target/stcp-loadgen.jar",
                description = "The Java generator (default: ${DEFAULT-VALUE}).")
        Path loadgenJar;

        @Option(names = "--busy-poll", description = "The C generator polls without ever sleeping, so that no server's"
                + " write pays to wake it: on loopback the writer's core runs the receiver's half of TCP, wake-up"
                + " included, which a slower server (whose generator sleeps more often) pays more often.")
        boolean busyPoll;

        Generator generator(PrintStream warnings) {
            Generator g = choose(which, nativeDir, loadgenJar, warnings);
            if (!busyPoll) {
                return g;
            }
            if (!g.name().equals("c")) {
                throw new IllegalArgumentException("--busy-poll needs the C generator, which was not built or not chosen");
            }
            return new Generator("c-busy-poll", g.command(), List.of("--busy-poll"));
        }

        /** The C echo server the ceiling is measured against, if it was built. */
        java.util.Optional<Path> echoServer() {
            Path echo = nativeDir.resolve("echo");
            return Files.isExecutable(echo) ? java.util.Optional.of(echo) : java.util.Optional.empty();
        }
    }

    static Generator c(Path binary) {
        return new Generator("c", List.of(binary.toString()), List.of());
    }

    static Generator java(Path jar) {
        return new Generator("java", List.of(Processes.java(), "--enable-native-access=ALL-UNNAMED", "-jar", jar.toString()),
                List.of("--pipelined", "--quiet", "--result-line"));
    }

    /**
     * The generator to use: {@code c}, {@code java}, or {@code auto} — the C one when it was built,
     * else the Java one with a warning on {@code warnings} that it may measure itself.
     *
     * @throws IllegalArgumentException for another name, or {@code c} when it was not built
     */
    static Generator choose(String which, Path nativeDir, Path javaJar, PrintStream warnings) {
        Path binary = nativeDir.resolve("loadgen");
        boolean built = Files.isExecutable(binary);
        return switch (which) {
            case "java" -> java(javaJar);
            case "c" -> {
                if (!built) {
                    throw new IllegalArgumentException("--generator c: " + binary + " was not built (gcc missing?)");
                }
                yield c(binary);
            }
            case "auto" -> {
                if (built) {
                    yield c(binary);
                }
                warnings.println("WARNING: the C load generator " + binary + " is missing (the build compiles it with gcc"
                        + " when gcc is installed); falling back to the Java generator, which tops out near 90k msg/s at"
                        + " one frame in flight on this kind of machine: at such loads the figures measure the"
                        + " generator, not the servers.");
                yield java(javaJar);
            }
            default -> throw new IllegalArgumentException("--generator: " + which + " (expected: auto, c or java)");
        };
    }

    /** The command line of one run; {@code serverPid} 0 = unknown. */
    List<String> commandLine(String address, Load load, String warmup, String duration, long serverPid, boolean syscalls) {
        List<String> c = new ArrayList<>(command);
        c.addAll(List.of("--addr", address, "--connections", Integer.toString(load.connections()),
                "--in-flight", Integer.toString(load.inFlight()), "--size", Integer.toString(load.size()),
                "--warmup", warmup, "--duration", duration));
        if (serverPid > 0) {
            c.addAll(List.of("--server-pid", Long.toString(serverPid)));
        }
        if (syscalls) {
            c.add("--syscalls");
        }
        c.addAll(suffix);
        return c;
    }

    /**
     * Runs one load against {@code address}, pinned to {@code cpu} (-1: not pinned), its output in
     * {@code log}; waits at most the warm-up and the window plus two minutes.
     *
     * @throws IOException if the generator printed no result line (the log says why)
     */
    Outcome run(String address, Load load, String warmup, String duration, long serverPid, boolean syscalls, int cpu,
                Path log) throws IOException, InterruptedException {
        Process p = Processes.start(Processes.pinned(cpu, commandLine(address, load, warmup, duration, serverPid, syscalls)),
                log);
        long limitMillis = io.stcp.Durations.parse(warmup).plus(io.stcp.Durations.parse(duration)).toMillis()
                + TimeUnit.MINUTES.toMillis(2);
        if (!p.waitFor(limitMillis, TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
            throw new IOException(name + " load generator did not finish within " + limitMillis + " ms; see " + log);
        }
        List<String> lines = Files.readAllLines(log);
        for (int i = lines.size() - 1; i >= 0; i--) {
            if (lines.get(i).startsWith("result ")) {
                Map<String, String> fields = LoadResult.resultFields(lines.get(i));
                Map<String, String> fairness = i > 0 && lines.get(i - 1).startsWith("fairness ")
                        ? LoadResult.lineFields("fairness", lines.get(i - 1))
                        : Map.of();
                return new Outcome(LoadResult.parseResultLine(lines.get(i)),
                        LoadResult.decimal(fields.getOrDefault("loadgen_busy", "NaN")),
                        LoadResult.decimal(fields.getOrDefault("others_busy", "NaN")),
                        Long.parseLong(fairness.getOrDefault("conn_msgs_min", "-1")),
                        Long.parseLong(fairness.getOrDefault("conn_msgs_max", "-1")));
            }
        }
        throw new IOException(name + " load generator exited with " + p.exitValue() + " without a result; see " + log);
    }
}
