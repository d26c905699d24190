package io.stcp.examples;

import io.stcp.ServerConfig;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code chat server|client|demo}: the chat server with rooms, its reconnecting client, and a scripted demo of both. */
@Command(name = "chat", mixinStandardHelpOptions = true,
        description = "A chat server with rooms (a connection registry) and its reconnecting client.",
        subcommands = {ChatCommand.Server.class, ChatCommand.Client.class, ChatCommand.Demo.class})
final class ChatCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "Missing subcommand: server, client or demo");
    }

    @Command(name = "server", mixinStandardHelpOptions = true, description = "Run the chat server until SIGINT/SIGTERM.")
    static final class Server implements Callable<Integer> {
        @Option(names = "--addr", defaultValue = "127.0.0.1:9000", description = "Listen address (default: ${DEFAULT-VALUE}).")
        String address;

        @Option(names = "--tls-cert", description = "TLS: the certificate chain (PEM); with --tls-key.")
        Path tlsCert;

        @Option(names = "--tls-key", description = "TLS: the private key (PEM, PKCS#8); with --tls-cert.")
        Path tlsKey;

        @Option(names = "--first-frame-timeout", defaultValue = "10s", description = "Close a connection whose first"
                + " line (its /nick) is not complete this long after the accept; 0 = none (default: ${DEFAULT-VALUE}).")
        Duration firstFrameTimeout;

        @Option(names = "--read-idle-timeout", defaultValue = "30m", description = "Close a connection that sends"
                + " nothing for this long (the chat client reconnects and rejoins by itself); 0 = none"
                + " (default: ${DEFAULT-VALUE}).")
        Duration readIdleTimeout;

        @Override
        public Integer call() throws Exception {
            ServerConfig.Builder config = ServerConfig.builder().address(address)
                    .firstFrameTimeout(firstFrameTimeout).readIdleTimeout(readIdleTimeout);
            if (tlsCert != null || tlsKey != null) {
                config.tls(TlsOptions.tls(tlsCert, tlsKey, null, null));
            }
            ChatServer chat = ChatServer.start(config.build());
            String talk = tlsCert != null ? "openssl s_client -quiet -connect " + HostPorts.format(chat.address())
                    : "nc " + chat.address().getHostString() + " " + chat.address().getPort();
            System.out.println("chat server on " + HostPorts.format(chat.address()) + "; try: " + talk
                    + ", then /nick you, /join lobby, /say lobby hello");
            chat.server().runUntilSignal(Duration.ofSeconds(5)); // SIGINT/SIGTERM: graceful shutdown, exit 0
            return 0;
        }
    }

    @Command(name = "client", mixinStandardHelpOptions = true,
            description = "Chat from the terminal: lines starting with / are commands, others are said in --room.")
    static final class Client implements Callable<Integer> {
        @Option(names = "--addr", defaultValue = "127.0.0.1:9000", description = "Server address (default: ${DEFAULT-VALUE}).")
        String address;

        @Option(names = "--nick", required = true, description = "Your name.")
        String nick;

        @Option(names = "--room", defaultValue = "lobby", description = "The room to join and talk in (default: ${DEFAULT-VALUE}).")
        String room;

        @Option(names = "--tls-ca", description = "Connect over TLS, trusting the CAs in this PEM file (the server's own"
                + " certificate, if self-signed).")
        Path tlsCa;

        @Override
        public Integer call() throws Exception {
            try (ChatClient chat = new ChatClient(address, TlsOptions.client(tlsCa), nick, System.out::println)) {
                chat.join(room);
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                for (String line; (line = in.readLine()) != null; ) {
                    try {
                        if (line.startsWith("/")) {
                            chat.send(line);
                        } else if (!line.isBlank()) {
                            chat.say(room, line);
                        }
                    } catch (io.stcp.SendException e) {
                        System.out.println("~ not sent: " + e.getMessage());
                    }
                }
            }
            return 0;
        }
    }

    /**
     * Two clients talk through a server that is then killed and restarted on the same port: the
     * clients reconnect on their own, log in and rejoin their room, and talk again.
     */
    @Command(name = "demo", mixinStandardHelpOptions = true,
            description = "Scripted: alice and bob chat, the server restarts, they reconnect and chat again.")
    static final class Demo implements Callable<Integer> {
        private static final long WAIT_SECONDS = 10;

        @Override
        public Integer call() throws Exception {
            BlockingQueue<String> alice = new LinkedBlockingQueue<>();
            BlockingQueue<String> bob = new LinkedBlockingQueue<>();
            ChatServer first = ChatServer.start(ServerConfig.builder().address("127.0.0.1:0").build());
            ChatServer second = null;
            String address = "127.0.0.1:" + first.address().getPort();
            System.out.println("chat server on " + address);
            try (ChatClient a = new ChatClient(address, "alice", transcript("alice", alice));
                 ChatClient b = new ChatClient(address, "bob", transcript("bob", bob))) {
                a.join("lobby");
                b.join("lobby");
                awaitTrue(() -> first.registry().group("lobby").size() == 2, "both in the lobby");
                a.say("lobby", "hi bob");
                expect(bob, "[lobby] alice: hi bob");
                b.whisper("alice", "psst, alice");
                expect(alice, "[whisper] bob: psst, alice");

                System.out.println("-- the server goes away, and comes back on the same port");
                first.close();
                expect(alice, "~ disconnected");
                ChatServer restarted = ChatServer.start(ServerConfig.builder().address(address).build());
                second = restarted;
                awaitTrue(() -> restarted.registry().group("lobby").size() == 2, "both back in the lobby");
                a.say("lobby", "still there?");
                expect(bob, "[lobby] alice: still there?");
                System.out.printf("ok: alice connected %d times, bob %d times%n", a.client().connectCount(),
                        b.client().connectCount());
                return 0;
            } catch (AssertionError e) {
                System.out.println("FAILED: " + e.getMessage());
                return 1;
            } finally {
                first.close();
                if (second != null) {
                    second.close();
                }
            }
        }

        private static java.util.function.Consumer<String> transcript(String who, BlockingQueue<String> lines) {
            return line -> {
                System.out.printf("  %-5s < %s%n", who, line);
                lines.add(line);
            };
        }

        /** Takes lines until one that starts with {@code wanted}; fails after 10 s. */
        private static void expect(BlockingQueue<String> lines, String wanted) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
            while (true) {
                String line = lines.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (line == null) {
                    throw new AssertionError("no line \"" + wanted + "\" within " + WAIT_SECONDS + "s");
                }
                if (line.startsWith(wanted)) {
                    return;
                }
            }
        }

        private static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
            while (!condition.getAsBoolean()) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError(what + ": not within " + WAIT_SECONDS + "s");
                }
                TimeUnit.MILLISECONDS.sleep(5); // polling a condition with a deadline, not waiting for time to pass
            }
        }
    }
}
