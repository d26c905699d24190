package io.stcp.loadgen;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Command line of the load generator: {@code java -jar stcp-loadgen.jar --addr 127.0.0.1:9000 ...}. */
@Command(name = "stcp-loadgen", mixinStandardHelpOptions = true,
        description = "Drive a 4-byte length-prefixed echo server and report msgs/s and latency percentiles.")
public final class LoadMain implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--addr", required = true, description = "Server HOST:PORT.")
    String address;

    @Option(names = "--connections", defaultValue = "100", description = "Connections (default: ${DEFAULT-VALUE}).")
    int connections;

    @Option(names = "--in-flight", defaultValue = "1", description = "Frames outstanding per connection (default: ${DEFAULT-VALUE}).")
    int inFlight;

    @Option(names = "--size", defaultValue = "64", description = "Frame size in bytes incl. the 4-byte header (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--duration", defaultValue = "10s", description = "Measured window, e.g. 10s, 500ms, 1m (default: ${DEFAULT-VALUE}).")
    String duration;

    @Option(names = "--warmup", defaultValue = "2s", description = "Warm-up, not recorded (default: ${DEFAULT-VALUE}).")
    String warmup;

    @Option(names = "--pipelined", description = "Flush replies once per read batch instead of one by one.")
    boolean pipelined;

    @Option(names = "--source-addrs", split = ",", description = "Local addresses to bind, round-robin (e.g. 127.0.0.2,127.0.0.3).")
    List<String> sources = List.of();

    @Option(names = "--threads", defaultValue = "1", description = "Event-loop threads (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--csv", description = "Append the result as a CSV row to this file (header written if new).")
    Path csv;

    @Option(names = "--label", defaultValue = "", description = "Free text put in the CSV's first column.")
    String label;

    @Option(names = "--server-pid", defaultValue = "0", description = "Server process id: report its CPU time per message.")
    long serverPid;

    @Option(names = "--syscalls", description = "Also count the server's system calls in the window with Linux perf"
            + " (needs --server-pid; perf slows the server, so use a separate run for CPU and throughput).")
    boolean syscalls;

    @Option(names = "--quiet", description = "No live progress line.")
    boolean quiet;

    @Option(names = "--result-line", description = "Print the result as one 'result key=value ...' line, as the C"
            + " load generator of stcp-bench does, instead of the summary.")
    boolean resultLine;

    @Option(names = "--tls", description = "Speak TLS (TLS 1.3 unless --tls-protocol); trusts any certificate"
            + " unless --tls-ca is given.")
    boolean tls;

    @Option(names = "--tls-ca", description = "PEM bundle the server's certificate must chain to (implies --tls).")
    Path tlsCa;

    @Option(names = "--tls-protocol", defaultValue = "TLSv1.3", description = "TLS protocol (default: ${DEFAULT-VALUE}).")
    String tlsProtocol;

    @Option(names = "--tls-openssl", description = "Use OpenSSL (netty-tcnative BoringSSL) instead of the JDK's TLS.")
    boolean tlsOpenssl;

    @Option(names = "--reconnect", description = "Measure new connections per second instead: each connection loops"
            + " connect (and handshake), one echo, close.")
    boolean reconnect;

    public static void main(String[] args) {
        System.exit(new CommandLine(new LoadMain()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        int colon = address.lastIndexOf(':');
        if (colon < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--addr: \"" + address + "\" (expected: HOST:PORT)");
        }
        LoadOptions options;
        try { // a bad value is a usage error naming it, not a stack trace
            options = LoadOptions.builder()
                    .host(address.substring(0, colon).replace("[", "").replace("]", ""))
                    .port(port(address.substring(colon + 1)))
                    .connections(connections).inFlight(inFlight).payloadSize(size - 4)
                    .duration(parseDuration(duration)).warmup(parseDuration(warmup))
                    .pipelined(pipelined).sourceAddresses(sources).threads(threads).serverPid(serverPid)
                    .countSyscalls(syscalls)
                    .tls(tls || tlsCa != null ? new LoadOptions.Tls(tlsCa, tlsProtocol, tlsOpenssl) : null)
                    .build();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        LoadResult r;
        try {
            r = reconnect ? ReconnectLoad.run(options, quiet ? null : System.err)
                    : LoadGenerator.run(options, quiet ? null : System.err);
        } catch (IOException e) {
            System.err.println("stcp-loadgen: " + e.getMessage());
            return 2;
        }
        System.out.println(resultLine ? r.resultLine() : r.summary());
        if (csv != null) {
            appendCsv(csv, label, options, r);
        }
        return r.errors() == 0 ? 0 : 1;
    }

    static void appendCsv(Path csv, String label, LoadOptions o, LoadResult r) throws IOException {
        StringBuilder sb = new StringBuilder();
        if (!Files.exists(csv)) {
            sb.append("label,in_flight,pipelined,").append(LoadResult.csvHeader()).append('\n');
        }
        sb.append(label).append(',').append(o.inFlight()).append(',').append(o.pipelined()).append(',')
                .append(r.csvRow()).append('\n');
        Files.writeString(csv, sb, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    /** The port of --addr; not a number is refused by the option's name. */
    private static int port(String s) {
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--addr: port \"" + s + "\" (expected: 1..65535)");
        }
    }

    /** Parses "10s", "500ms", "1m", "2h", or ISO-8601. */
    static Duration parseDuration(String s) {
        String t = s.trim();
        try {
            if (t.startsWith("P") || t.startsWith("p")) {
                return Duration.parse(t);
            }
            if (t.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
            }
            long n = Long.parseLong(t.substring(0, t.length() - 1));
            return switch (t.charAt(t.length() - 1)) {
                case 's' -> Duration.ofSeconds(n);
                case 'm' -> Duration.ofMinutes(n);
                case 'h' -> Duration.ofHours(n);
                default -> throw new IllegalArgumentException();
            };
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("duration: \"" + s + "\" (expected: e.g. 500ms, 10s, 1m)");
        }
    }
}
