package io.stcp.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Memory per idle connection: opens N connections to a server in its own JVM, each doing one echo,
 * then measures the server's resident set (VmRSS) and live heap (after a full GC, via jcmd) against
 * the same figures before the connections. Connections come from several loopback source addresses
 * (127.0.0.2, 127.0.0.3, …) to get past the ephemeral-port limit.
 */
@Command(name = "idle-memory", mixinStandardHelpOptions = true,
        description = "RSS and live heap per idle connection, stcp vs Netty.")
final class IdleMemoryCommand implements Callable<Integer> {
    private static final int PER_SOURCE = 10_000; // well below the ephemeral range, which TIME_WAIT from earlier runs may hold

    @Option(names = "--servers", split = ",", defaultValue = "netty-epoll,netty-nio,stcp,stcp-jdk",
            description = "netty-epoll, netty-nio, stcp (its epoll transport) or stcp-jdk (default: ${DEFAULT-VALUE}).")
    List<String> servers;

    @Option(names = "--connections", defaultValue = "10000", description = "Idle connections (default: ${DEFAULT-VALUE}).")
    int connections;

    @Option(names = "--stcp-jar", defaultValue = "stcp-examples/target/stcp-examples.jar")
    Path stcpJar;

    @Option(names = "--bench-jar", defaultValue = "stcp-bench/target/stcp-bench.jar")
    Path benchJar;

    @Mixin
    NettyEchoOptions nettyOptions;

    @Option(names = "--stcp-jvm-opts", defaultValue = "", description = "Extra JVM options for the stcp server.")
    String stcpJvmOpts;

    @Override
    public Integer call() throws Exception {
        nettyOptions.arguments(); // refuses what is out of range before any run
        raiseFdLimit(4L * connections + 10_000);
        System.out.printf("| server | connections | RSS before MiB | RSS after MiB | RSS per conn KiB | heap per conn KiB |%n");
        System.out.printf("|---|---|---|---|---|---|%n");
        for (String server : servers) {
            measure(server);
        }
        return 0;
    }

    private void measure(String server) throws Exception {
        int port = Processes.freePort();
        String addr = "127.0.0.1:" + port;
        List<String> cmd = new ArrayList<>(List.of(Processes.java(), "-Xms256m", "-Xmx4g"));
        if (server.equals("stcp") || server.equals("stcp-jdk")) {
            Processes.addOptions(cmd, stcpJvmOpts);
            cmd.addAll(List.of("-jar", stcpJar.toString(), "echo", "--addr", addr, "--max-conn", "0",
                    "--transport", server.equals("stcp") ? "auto" : "jdk"));
        } else if (server.startsWith("netty-")) {
            cmd.addAll(List.of("--enable-native-access=ALL-UNNAMED", "-cp", benchJar.toString(), "io.stcp.bench.BenchMain",
                    "netty-echo", "--addr", addr, "--transport", server.substring("netty-".length())));
            cmd.addAll(nettyOptions.arguments());
        } else {
            throw new IllegalArgumentException("--servers: " + server + " (expected: netty-epoll, netty-nio, stcp or stcp-jdk)");
        }
        Path log = Files.createTempFile("idle-" + server, ".log");
        Process p = Processes.start(cmd, log);
        List<SocketChannel> open = new ArrayList<>(connections);
        try {
            Processes.awaitPort(port, p);
            warnIfFdLimitTooLow(server, p.pid());
            long rssBefore = settledRss(p);
            long heapBefore = Processes.liveHeapKib(p.pid());
            ByteBuffer ping = ByteBuffer.allocate(12);
            ByteBuffer pong = ByteBuffer.allocate(12);
            // Source addresses of a network of loopback's own, new for each run: the ports an earlier
            // run's connections left in TIME_WAIT on 127.0.0.x made a second run's binds fail.
            int net = 1 + java.util.concurrent.ThreadLocalRandom.current().nextInt(254);
            for (int i = 0; i < connections; i++) {
                SocketChannel ch = SocketChannel.open();
                open.add(ch);
                ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                ch.bind(new InetSocketAddress("127." + net + ".0." + (2 + i / PER_SOURCE), 0));
                ch.connect(new InetSocketAddress("127.0.0.1", port));
                ping.clear().putInt(8).putLong(i).flip();
                while (ping.hasRemaining()) {
                    ch.write(ping);
                }
                pong.clear();
                while (pong.hasRemaining()) {
                    if (ch.read(pong) < 0) {
                        throw new IOException(server + " closed connection " + i);
                    }
                }
            }
            long rssAfter = settledRss(p);
            long heapAfter = Processes.liveHeapKib(p.pid());
            System.out.printf("| %s | %,d | %.1f | %.1f | %.1f | %.1f |%n", server, connections, rssBefore / 1024.0,
                    rssAfter / 1024.0, (rssAfter - rssBefore) / (double) connections,
                    (heapAfter - heapBefore) / (double) connections);
        } finally {
            for (SocketChannel ch : open) {
                ch.close();
            }
            Processes.stop(p);
        }
    }

    /**
     * Warns when the server cannot hold the connections' descriptors: one a connection, on every
     * server (stcp's epoll transport took two from 2acf61c until it worked on the channel's own).
     * Short of them its accepts fail and retry until the run's end, and the figures measure the
     * garbage of those retries (2026-12-06: 7.9–8.3 KiB RSS per connection at a limit of 20,000 for
     * 10,000 connections with two descriptors each, 3.1–3.8 at 9,000).
     */
    private void warnIfFdLimitTooLow(String server, long pid) throws IOException {
        long needed = connections + 1_000L;
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/limits"))) {
            if (line.startsWith("Max open files")) {
                String soft = line.substring("Max open files".length()).trim().split("\\s+")[0];
                if (!soft.equals("unlimited") && Long.parseLong(soft) < needed) {
                    System.err.printf("warning: %s's open-file limit %s is below the %,d its connections need:"
                            + " its accepts will fail and retry, and the figures will measure that%n", server, soft, needed);
                }
            }
        }
    }

    /** VmRSS in KiB after a full GC and a moment of quiet. */
    private static long settledRss(Process p) throws Exception {
        Processes.jcmd(p.pid(), "GC.run");
        TimeUnit.SECONDS.sleep(2);
        for (String line : Files.readAllLines(Path.of("/proc/" + p.pid() + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        throw new IOException("no VmRSS for " + p.pid());
    }

    /** Raises this process's open-file limit (children inherit it); needs prlimit and privileges. */
    private static void raiseFdLimit(long limit) {
        try {
            Process p = new ProcessBuilder("prlimit", "--pid", Long.toString(ProcessHandle.current().pid()),
                    "--nofile=" + limit + ":" + limit).inheritIO().start();
            if (p.waitFor() != 0) {
                System.err.println("warning: could not raise the open-file limit to " + limit);
            }
        } catch (IOException | InterruptedException e) {
            System.err.println("warning: could not raise the open-file limit: " + e.getMessage());
        }
    }
}
