package io.stcp.examples;

import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import io.stcp.loadgen.LoadGenerator;
import io.stcp.loadgen.LoadOptions;
import io.stcp.loadgen.LoadResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code demo}: starts the echo server in-process and drives it with the load generator through a
 * few loads, bounded in time, printing what a user wants to see.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run the echo server in-process under load and print throughput and latency.")
final class DemoCommand implements Callable<Integer> {

    @Option(names = "--duration", defaultValue = "5s", description = "Measured time per load (default: ${DEFAULT-VALUE}).")
    Duration duration;

    @Option(names = "--warmup", defaultValue = "1s", description = "Warm-up per load (default: ${DEFAULT-VALUE}).")
    Duration warmup;

    @Option(names = "--loads", defaultValue = "100x1,100x16,1000x1",
            description = "Loads as CONNECTIONSxIN_FLIGHT, comma-separated (default: ${DEFAULT-VALUE}).", split = ",")
    List<String> loads;

    @Option(names = "--size", defaultValue = "64", description = "Frame size in bytes, header included (default: ${DEFAULT-VALUE}).")
    int frameSize;

    @Spec
    CommandSpec spec;

    /** One load: {@code connections} connections, each with {@code inFlight} frames in flight. */
    private record Load(int connections, int inFlight) {}

    /** The loads, each checked before anything runs: a typo says so instead of failing halfway. */
    private List<Load> loads() {
        List<Load> out = new ArrayList<>();
        for (String load : loads) {
            String[] parts = load.trim().split("x", -1);
            try {
                Load l = parts.length != 2 ? null : new Load(Integer.parseInt(parts[0]), Integer.parseInt(parts[1]));
                if (l != null && l.connections() >= 1 && l.inFlight() >= 1) {
                    out.add(l);
                    continue;
                }
            } catch (NumberFormatException e) {
                // said below
            }
            throw new ParameterException(spec.commandLine(), "--loads: \"" + load
                    + "\" (expected: CONNECTIONSxIN_FLIGHT, both at least 1, e.g. 100x16)");
        }
        return out;
    }

    @Override
    public Integer call() throws Exception {
        List<Load> loads = loads();
        TcpServer server = EchoServer.create(ServerConfig.builder().address("127.0.0.1:0").build(), 1024).start();
        try {
            System.out.printf("stcp demo: echo server on %s, %d-byte frames, %s per load (+%s warm-up)%n",
                    server.address().getHostString() + ":" + server.address().getPort(), frameSize,
                    io.stcp.Durations.format(duration), io.stcp.Durations.format(warmup));
            List<String> rows = new ArrayList<>();
            int failures = 0;
            for (Load load : loads) {
                int connections = load.connections();
                int inFlight = load.inFlight();
                System.out.printf("running %d x %d: %d connections, each with %d frame%s in flight ...%n",
                        connections, inFlight, connections, inFlight, inFlight == 1 ? "" : "s");
                LoadOptions options = LoadOptions.builder()
                        .host("127.0.0.1").port(server.address().getPort())
                        .connections(connections).inFlight(inFlight)
                        .payloadSize(frameSize - 4).duration(duration).warmup(warmup)
                        .build();
                LoadResult r = LoadGenerator.run(options, null);
                rows.add(String.format("%-12s %,12.0f %10d %10d %10d %10d %8d", connections + " x " + inFlight,
                        r.messagesPerSecond(), r.p50Micros(), r.p90Micros(), r.p99Micros(), r.p999Micros(), r.errors()));
                failures += r.errors() > 0 || r.messages() == 0 ? 1 : 0;
            }
            // The load tool has closed its connections; a graceful shutdown waits until the server
            // has seen every one of them end, so the counts below are final.
            boolean drained = server.shutdown(Duration.ofSeconds(5));
            // The result comes last, after anything the server logged while it stopped.
            System.out.printf("%nResult (load = connections x frames in flight per connection; latency is the"
                    + " round trip of one frame):%n");
            System.out.printf("%-12s %12s %10s %10s %10s %10s %8s%n", "load", "msgs/s", "p50 µs", "p90 µs",
                    "p99 µs", "p999 µs", "errors");
            rows.forEach(System.out::println);
            System.out.printf("server: %d connections accepted, %d rejected, %d live after shutdown (%s)%n",
                    server.acceptedCount(), server.rejectedCount(), server.connectionCount(),
                    drained ? "clean" : "some closed by force");
            return failures == 0 ? 0 : 1;
        } finally {
            server.shutdown(Duration.ofSeconds(5));
        }
    }
}
