package io.stcp.bench;

import io.stcp.ConnectionRegistry;
import io.stcp.SendResult;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import io.stcp.framing.DelimiterReader;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * One message to 10,000 connections, end to end on loopback: a server in its own JVM keeps every
 * connection in a {@link ConnectionRegistry} group; this process holds the client ends (one
 * selector thread) and, over a separate control connection, asks the server to send one message to
 * the group, then times how long until every client has all of it. The server reports how long
 * {@code sendToGroup} took on its side (the time to enqueue: one put per connection, its send
 * thread woken). Each round waits for the last client before the next one starts.
 *
 * <p>Protocol (lines): a client sends {@code sub} (answered {@code ok}) to join the group; the
 * control connection sends {@code bcast SIZE}, answered {@code enq NANOS ACCEPTED REFUSED} once
 * {@code sendToGroup} has returned.
 */
@Command(name = "broadcast", mixinStandardHelpOptions = true,
        description = "Broadcast one message to N connections: time to enqueue and to reach the last client.",
        subcommands = BroadcastCommand.Server.class)
final class BroadcastCommand implements Callable<Integer> {
    private static final int PER_SOURCE = 5_000; // client ends per loopback source address (127.0.0.2, .3, ...)

    @Option(names = "--connections", defaultValue = "10000", description = "Connections (default: ${DEFAULT-VALUE}).")
    int connections;

    @Option(names = "--size", defaultValue = "64", description = "Message size in bytes (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--rounds", defaultValue = "30", description = "Measured rounds (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--warmup", defaultValue = "10", description = "Rounds before measuring (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--transport", defaultValue = "auto", description = "The server's: auto, jdk or epoll (default: ${DEFAULT-VALUE}).")
    String transport;

    @Option(names = "--bench-jar", defaultValue = "stcp-bench/target/stcp-bench.jar")
    Path benchJar;

    @Override
    public Integer call() throws Exception {
        if (size < 2) {
            throw new IllegalArgumentException("--size: " + size + " (expected: >= 2)");
        }
        int port = Processes.freePort();
        List<String> cmd = List.of(Processes.java(), "-Xms1g", "-Xmx2g", "--enable-native-access=ALL-UNNAMED",
                "--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED", "-cp", benchJar.toString(),
                "io.stcp.bench.BenchMain", "broadcast", "server", "--addr", "127.0.0.1:" + port, "--transport", transport);
        Path log = Files.createTempFile("broadcast-server", ".log");
        Process server = Processes.start(cmd, log);
        List<SocketChannel> clients = new ArrayList<>(connections);
        try (Selector selector = Selector.open()) {
            Processes.awaitPort(port, server);
            InetSocketAddress address = new InetSocketAddress("127.0.0.1", port);
            for (int i = 0; i < connections; i++) {
                SocketChannel ch = SocketChannel.open();
                clients.add(ch);
                ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                ch.bind(new InetSocketAddress("127.0.0." + (2 + i / PER_SOURCE), 0));
                ch.connect(address);
                writeLine(ch, "sub");
            }
            for (int i = 0; i < connections; i++) {
                SocketChannel ch = clients.get(i);
                String ok = readLine(ch);
                if (!ok.equals("ok")) {
                    throw new IOException("connection " + i + ": " + ok);
                }
                ch.configureBlocking(false);
                ch.register(selector, SelectionKey.OP_READ, i);
            }
            try (SocketChannel control = SocketChannel.open(address)) {
                String used = Files.readAllLines(log).stream().filter(l -> l.startsWith("transport="))
                        .map(l -> l.substring("transport=".length())).findFirst().orElse("?");
                System.out.printf("broadcast of %d bytes to %,d connections, server transport %s, %d rounds (+%d warm-up)%n",
                        size, connections, used, rounds, warmup);
                long[] enqueue = new long[rounds];
                long[] median = new long[rounds];
                long[] last = new long[rounds];
                for (int r = -warmup; r < rounds; r++) {
                    long[] arrivals = round(selector, control);
                    String[] enq = readLine(control).split(" ");
                    if (!enq[0].equals("enq") || Integer.parseInt(enq[2]) != connections) {
                        throw new IOException("server: " + String.join(" ", enq));
                    }
                    if (r >= 0) {
                        Arrays.sort(arrivals);
                        enqueue[r] = Long.parseLong(enq[1]);
                        median[r] = arrivals[arrivals.length / 2];
                        last[r] = arrivals[arrivals.length - 1];
                    }
                }
                System.out.println();
                System.out.println("| per round (median of rounds; min .. max) | ms |");
                System.out.println("|---|---|");
                row("enqueue: sendToGroup on the server", enqueue);
                row("half of the clients have it", median);
                row("the last client has it (end to end)", last);
            }
            return 0;
        } finally {
            for (SocketChannel ch : clients) {
                ch.close();
            }
            Processes.stop(server);
        }
    }

    /** Asks for one broadcast and waits until every client has it; returns each client's arrival in ns after the ask. */
    private long[] round(Selector selector, SocketChannel control) throws IOException {
        int[] received = new int[connections];
        long[] arrivals = new long[connections];
        int done = 0;
        ByteBuffer buf = ByteBuffer.allocateDirect(64 * 1024);
        long start = System.nanoTime();
        writeLine(control, "bcast " + size);
        long deadline = start + TimeUnit.SECONDS.toNanos(60);
        while (done < connections) {
            if (System.nanoTime() > deadline) {
                throw new IOException("only " + done + " of " + connections + " clients got the message within 60s");
            }
            selector.select(1000);
            for (SelectionKey key : selector.selectedKeys()) {
                int i = (Integer) key.attachment();
                SocketChannel ch = (SocketChannel) key.channel();
                int n;
                while ((n = ch.read(buf.clear())) > 0) {
                    received[i] += n;
                }
                if (n < 0) {
                    throw new IOException("the server closed connection " + i);
                }
                if (received[i] == size) {
                    arrivals[i] = System.nanoTime() - start;
                    done++;
                } else if (received[i] > size) {
                    throw new IOException("connection " + i + " got " + received[i] + " bytes, expected " + size);
                }
            }
            selector.selectedKeys().clear();
        }
        return arrivals;
    }

    private static void row(String what, long[] nanos) {
        long[] s = nanos.clone();
        Arrays.sort(s);
        System.out.printf("| %s | %.2f (%.2f .. %.2f) |%n", what, s[s.length / 2] / 1e6, s[0] / 1e6, s[s.length - 1] / 1e6);
    }

    private static void writeLine(SocketChannel ch, String line) throws IOException {
        ByteBuffer b = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.US_ASCII));
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** Reads one line from a blocking channel, a byte at a time (only for short replies). */
    private static String readLine(SocketChannel ch) throws IOException {
        StringBuilder sb = new StringBuilder();
        ByteBuffer one = ByteBuffer.allocate(1);
        while (true) {
            one.clear();
            if (ch.read(one) < 0) {
                throw new IOException("closed after \"" + sb + "\"");
            }
            char c = (char) one.get(0);
            if (c == '\n') {
                return sb.toString();
            }
            sb.append(c);
        }
    }

    /** The server side, run in its own JVM by the command above. */
    @Command(name = "server", mixinStandardHelpOptions = true, description = "The broadcast benchmark's server.")
    static final class Server implements Callable<Integer> {
        @Option(names = "--addr", defaultValue = "127.0.0.1:9000")
        String address;

        @Option(names = "--transport", defaultValue = "auto")
        String transport;

        @Override
        public Integer call() throws Exception {
            System.setProperty("io.stcp.transport", transport);
            ConnectionRegistry registry = ConnectionRegistry.create();
            DelimiterReader reader = DelimiterReader.builder().lines().maxLength(64).build((me, line) -> {
                String[] w = new String(line, StandardCharsets.US_ASCII).split(" ");
                if (w[0].equals("sub")) {
                    registry.joinGroup(me, "all");
                    me.put("ok\n".getBytes(StandardCharsets.US_ASCII));
                    return;
                }
                byte[] message = new byte[Integer.parseInt(w[1])];
                Arrays.fill(message, (byte) 'x');
                long start = System.nanoTime();
                SendResult r = registry.sendToGroup("all", message);
                long took = System.nanoTime() - start;
                me.put(("enq " + took + " " + r.accepted() + " " + r.refused() + "\n").getBytes(StandardCharsets.US_ASCII));
            });
            TcpServer server = TcpServer.create(ServerConfig.builder().address(address).maxConn(0).build(), reader,
                    SenderFactory.queue(64)).registry(registry).start();
            System.out.println("transport=" + io.stcp.internal.Transports.name());
            server.awaitTermination();
            return 0;
        }
    }
}
