package io.stcp.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The load generator's ceiling per load: its throughput against the cheapest server there is, the
 * C echo server of {@code src/main/c/echo.c}, pinned as the servers of a comparison are (server on
 * CPU 0, generator on CPU 1). A comparison measures the servers only where this ceiling is well
 * above the fastest server's throughput; {@code compare} measures it in every round, alternating
 * with the servers, and prints the ratio of the medians.
 */
@Command(name = "ceiling", mixinStandardHelpOptions = true,
        description = "The load generator's throughput per load against the C echo server (its ceiling).")
final class CeilingCommand implements Callable<Integer> {

    @Option(names = "--loads", split = ",", defaultValue = CompareCommand.DEFAULT_LOADS,
            description = "Loads CONNECTIONSxIN_FLIGHT[@FRAME_SIZE] (default: ${DEFAULT-VALUE}).")
    List<String> loads;

    @Option(names = "--size", defaultValue = "64", description = "Frame size incl. header where a load gives none"
            + " (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--duration", defaultValue = "5s", description = "Measured window per load (default: ${DEFAULT-VALUE}).")
    String duration;

    @Option(names = "--warmup", defaultValue = "1s", description = "Warm-up per load (default: ${DEFAULT-VALUE}).")
    String warmup;

    @Option(names = "--pin", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Pin the echo server to CPU 0 and the generator to CPU 1 when possible (default: ${DEFAULT-VALUE}).")
    boolean pin;

    @Option(names = "--out", defaultValue = "bench-results", description = "Folder for the logs (default: ${DEFAULT-VALUE}).")
    Path out;

    @Mixin
    Generator.Options generatorOptions;

    @Override
    public Integer call() throws Exception {
        List<Load> parsed = loads.stream().map(l -> Load.parse(l, size)).toList();
        Generator generator = generatorOptions.generator(System.err);
        Path echo = generatorOptions.echoServer().orElse(null);
        if (echo == null) {
            System.err.println("ceiling: the C echo server " + generatorOptions.nativeDir.resolve("echo")
                    + " was not built (the build compiles it with gcc when gcc is installed)");
            return 1;
        }
        boolean pinning = pin && Processes.canPin();
        Path dir = Files.createDirectories(out.resolve("ceiling-" + CompareCommand.timestamp()));
        System.out.printf("ceiling: %s generator against %s, %s + %s warm-up per load, pinned: %s; logs in %s%n%n",
                generator.name(), echo, duration, warmup, pinning, dir);
        System.out.println("| load | generator msgs/s | generator core busy | echo server CPU µs/msg | p99 µs"
                + " | other processes (cores) |\n|---|---|---|---|---|---|");
        for (Load load : parsed) {
            Summary.Run c = Summary.Run.of(Summary.CEILING, load.label(), 1,
                    measure(generator, echo, load, 1, warmup, duration, pinning, dir));
            System.out.printf(Locale.ROOT, "| %s | %,.0f | %.0f %% | %.2f | %,d | %.2f%s |%n", c.load(), c.msgsPerSecond(),
                    100 * c.loadgenBusy(), c.cpuMicrosPerMessage(), c.p99Micros(), c.othersBusy(),
                    c.disturbed() ? " (disturbed)" : "");
        }
        return 0;
    }

    /**
     * One ceiling run: the echo server on CPU 0, the generator on CPU 1 (when pinning), logs in
     * {@code dir}; its server CPU figure is the echo server's.
     *
     * @throws IOException if the generator failed or saw errors
     */
    static Generator.Outcome measure(Generator generator, Path echo, Load load, int round, String warmup, String duration,
                               boolean pinning, Path dir) throws IOException, InterruptedException {
        int port = Processes.freePort();
        String addr = "127.0.0.1:" + port;
        Process server = Processes.start(Processes.pinned(pinning ? 0 : -1, List.of(echo.toString(), "--addr", addr)),
                dir.resolve("server-" + load.label() + "-" + Summary.CEILING + "-" + round + ".log"));
        try {
            Processes.awaitPort(port, server);
            Generator.Outcome o = generator.run(addr, load, warmup, duration, server.pid(), false, pinning ? 1 : -1,
                    dir.resolve("load-" + load.label() + "-" + Summary.CEILING + "-" + round + ".log"));
            if (o.result().errors() > 0) {
                throw new IOException("the generator saw " + o.result().errors() + " errors against the C echo server at "
                        + load.label());
            }
            return o;
        } finally {
            Processes.stop(server);
        }
    }
}
