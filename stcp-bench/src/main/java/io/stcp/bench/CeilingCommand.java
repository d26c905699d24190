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
 * above the fastest server's throughput; {@code compare} measures it before each load and prints
 * the ratio.
 */
@Command(name = "ceiling", mixinStandardHelpOptions = true,
        description = "The load generator's throughput per load against the C echo server (its ceiling).")
final class CeilingCommand implements Callable<Integer> {

    /**
     * The generator's throughput against the C echo server at one load, how busy the generator's
     * core was (NaN when it does not say; below 1 the echo server or the wake-ups set the pace,
     * and the generator could go faster), and the echo server's CPU per message.
     */
    record Ceiling(String load, double msgsPerSecond, double loadgenBusy, double echoCpuMicrosPerMessage) {}

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
        System.out.println("| load | generator msgs/s | generator core busy | echo server CPU µs/msg |\n|---|---|---|---|");
        for (Load load : parsed) {
            Ceiling c = measure(generator, echo, load, warmup, duration, pinning, dir);
            System.out.printf(Locale.ROOT, "| %s | %,.0f | %.0f %% | %.2f |%n", c.load(), c.msgsPerSecond(),
                    100 * c.loadgenBusy(), c.echoCpuMicrosPerMessage());
        }
        return 0;
    }

    /** One ceiling run: the echo server on CPU 0, the generator on CPU 1 (when pinning), logs in {@code dir}. */
    static Ceiling measure(Generator generator, Path echo, Load load, String warmup, String duration, boolean pinning,
                           Path dir) throws IOException, InterruptedException {
        int port = Processes.freePort();
        String addr = "127.0.0.1:" + port;
        Process server = Processes.start(Processes.pinned(pinning ? 0 : -1, List.of(echo.toString(), "--addr", addr)),
                dir.resolve("ceiling-echo-" + load.label() + ".log"));
        try {
            Processes.awaitPort(port, server);
            Generator.Outcome o = generator.run(addr, load, warmup, duration, server.pid(), false, pinning ? 1 : -1,
                    dir.resolve("ceiling-load-" + load.label() + ".log"));
            if (o.result().errors() > 0) {
                throw new IOException("the generator saw " + o.result().errors() + " errors against the C echo server at "
                        + load.label());
            }
            return new Ceiling(load.label(), o.result().messagesPerSecond(), o.loadgenBusy(),
                    o.result().serverCpuMicrosPerMessage());
        } finally {
            Processes.stop(server);
        }
    }
}
