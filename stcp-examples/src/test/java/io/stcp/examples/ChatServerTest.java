package io.stcp.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ServerConfig;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChatServerTest {

    /** Lines from the server until {@code wanted}; fails after 10 s. */
    private static void expect(BlockingQueue<String> lines, String wanted) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (String line; (line = lines.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) != null; ) {
            if (line.equals(wanted)) {
                return;
            }
        }
        throw new AssertionError("no line \"" + wanted + "\" within 10s");
    }

    @Test
    void roomsWhispersToEveryConnectionOfANickAndGoodbyesOnExit() throws Exception {
        BlockingQueue<String> phone = new LinkedBlockingQueue<>();
        BlockingQueue<String> desktop = new LinkedBlockingQueue<>();
        BlockingQueue<String> bob = new LinkedBlockingQueue<>();
        try (ChatServer server = ChatServer.start(ServerConfig.builder().address("127.0.0.1:0").build())) {
            String address = "127.0.0.1:" + server.address().getPort();
            try (ChatClient alicePhone = new ChatClient(address, "alice", phone::add);
                 ChatClient aliceDesktop = new ChatClient(address, "alice", desktop::add);
                 ChatClient b = new ChatClient(address, "bob", bob::add)) {
                alicePhone.join("lobby");
                expect(phone, "* alice joined lobby"); // in the room before bob: connections race otherwise
                aliceDesktop.send("/who lobby");      // its reply follows the desktop's /nick: logged in before the whisper
                expect(desktop, "in lobby: alice");
                b.join("lobby");
                expect(phone, "* bob joined lobby");
                b.whisper("alice", "on both?");
                expect(phone, "[whisper] bob: on both?");
                expect(desktop, "[whisper] bob: on both?");
                b.whisper("carol", "hello?");
                expect(bob, "! carol is not here");
                b.send("/who lobby");
                expect(bob, "in lobby: alice bob");
                assertThat(server.registry().user("alice")).hasSize(2);

                alicePhone.client().close(); // gone without a word: the room hears it from the exit hook
                expect(bob, "* alice left lobby");
                // The registry unbinds a connection's nick, then its rooms: wait for both.
                Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> server.registry().user("alice").size() == 1
                        && server.registry().group("lobby").size() == 1);
            }
            // The server frees a connection's slot after the registry has dropped all of its bindings.
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> server.server().connectionCount() == 0);
            assertThat(server.registry().users()).isEmpty();
            assertThat(server.registry().groups()).isEmpty();
        }
    }

    /**
     * A script piped to {@code chat client} ends before its first connection is up: its lines wait
     * in the offline queue, and the close sends them once the connection comes up. The close
     * discarded them (the shutdown of a client with no connection up drops its offline queue), so
     * {@code echo hi | chat client ...} sent nothing, said nothing and exited 0.
     */
    @Test
    void linesSentBeforeTheFirstConnectionGoOutWhenTheClientClosesAtOnce() throws Exception {
        BlockingQueue<String> bob = new LinkedBlockingQueue<>();
        List<String> notes = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (ChatServer server = ChatServer.start(ServerConfig.builder().address("127.0.0.1:0").build())) {
            String address = "127.0.0.1:" + server.address().getPort();
            try (ChatClient b = new ChatClient(address, "bob", bob::add)) {
                b.join("lobby");
                expect(bob, "* bob joined lobby");
                try (ChatClient piped = new ChatClient(address, "alice", notes::add)) {
                    piped.join("lobby");
                    piped.say("lobby", "from a script"); // closed at once, not connected yet
                }
                expect(bob, "* alice joined lobby");
                expect(bob, "[lobby] alice: from a script");
                assertThat(notes).doesNotContain("~ closed before everything was sent");
            }
        }
    }

    @Test
    void commandsNeedANickAndAnArgument() throws Exception {
        try (ChatServer server = ChatServer.start(ServerConfig.builder().address("127.0.0.1:0").build());
             Socket s = new Socket("127.0.0.1", server.address().getPort())) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            out.write("/join lobby\n/nick carol\n/join\n/frobnicate x\n/join lobby\n/rooms\n".getBytes(StandardCharsets.UTF_8));
            assertThat(in.readLine()).isEqualTo("! who are you? /nick NAME first");
            assertThat(in.readLine()).isEqualTo("! /join needs an argument");
            assertThat(in.readLine()).isEqualTo("! unknown command /frobnicate");
            assertThat(in.readLine()).isEqualTo("* carol joined lobby");
            assertThat(in.readLine()).isEqualTo("rooms: lobby");
            StringBuilder joins = new StringBuilder();
            for (int i = 1; i <= ChatServer.MAX_ROOMS; i++) {
                joins.append("/join r").append(i).append('\n');
            }
            out.write(joins.toString().getBytes(StandardCharsets.UTF_8));
            for (int i = 1; i < ChatServer.MAX_ROOMS; i++) {
                assertThat(in.readLine()).isEqualTo("* carol joined r" + i);
            }
            assertThat(in.readLine()).isEqualTo("! at most " + ChatServer.MAX_ROOMS + " rooms");
            try (Socket outsider = new Socket("127.0.0.1", server.address().getPort())) { // in no room
                outsider.setSoTimeout(10_000);
                outsider.getOutputStream().write("/nick dave\n/say lobby spam\n/rooms\n".getBytes(StandardCharsets.UTF_8));
                BufferedReader heard = new BufferedReader(new InputStreamReader(outsider.getInputStream(),
                        StandardCharsets.UTF_8));
                assertThat(heard.readLine()).as("a room's members, not anyone, speak in it").isEqualTo("! you are not in lobby");
            }
        }
    }

    @Test
    void theLongestLineTheServerSendsReachesTheExamplesOwnClient() throws Exception {
        String nick = "n".repeat(ChatServer.MAX_NAME);
        String room = "r".repeat(ChatServer.MAX_NAME);
        String say = "/say " + room + " ";
        String text = "t".repeat(ChatServer.MAX_LINE - say.length()); // the longest command line there is
        BlockingQueue<String> bob = new LinkedBlockingQueue<>();
        try (ChatServer server = ChatServer.start(ServerConfig.builder().address("127.0.0.1:0").build());
             ChatClient b = new ChatClient("127.0.0.1:" + server.address().getPort(), "bob", bob::add);
             ChatClient speaker = new ChatClient("127.0.0.1:" + server.address().getPort(), nick, line -> { })) {
            b.join(room);
            expect(bob, "* bob joined " + room);
            speaker.join(room);
            expect(bob, "* " + nick + " joined " + room);
            speaker.send(say + text);
            String heard = "[" + room + "] " + nick + ": " + text; // longer than the command line: the nick is added
            assertThat(heard.length()).isGreaterThan(ChatServer.MAX_LINE).isLessThanOrEqualTo(ChatServer.MAX_OUTPUT_LINE);
            expect(bob, heard);
            assertThat(bob).as("no line refused, no reconnect").noneMatch(l -> l.startsWith("~ disconnected"));
            assertThat(b.client().connectCount()).isEqualTo(1);
        }
    }

    @Test
    void namesAreAtMost32BytesAndListsFitInOneLine() throws Exception {
        String tooLong = "x".repeat(ChatServer.MAX_NAME + 1);
        int users = 5; // each in MAX_ROOMS rooms of the longest name: more than one line can list
        try (ChatServer server = ChatServer.start(ServerConfig.builder().address("127.0.0.1:0").build())) {
            List<Socket> sockets = new ArrayList<>();
            try {
                for (int u = 0; u < users; u++) {
                    Socket s = new Socket("127.0.0.1", server.address().getPort());
                    sockets.add(s);
                    s.setSoTimeout(10_000);
                    StringBuilder commands = new StringBuilder("/nick u" + u + "\n");
                    for (int r = 0; r < ChatServer.MAX_ROOMS; r++) {
                        commands.append("/join ").append(String.format("%0" + ChatServer.MAX_NAME + "d", u * 1000 + r)).append('\n');
                    }
                    s.getOutputStream().write(commands.toString().getBytes(StandardCharsets.UTF_8));
                }
                Socket first = sockets.getFirst();
                BufferedReader in = new BufferedReader(new InputStreamReader(first.getInputStream(), StandardCharsets.UTF_8));
                for (int r = 0; r < ChatServer.MAX_ROOMS; r++) {
                    assertThat(in.readLine()).startsWith("* u0 joined ");
                }
                Awaitility.await().atMost(Duration.ofSeconds(10))
                        .until(() -> server.registry().groups().size() == users * ChatServer.MAX_ROOMS);
                OutputStream out = first.getOutputStream();
                out.write(("/nick " + tooLong + "\n/join " + tooLong + "\n/whisper " + tooLong + " hi\n/rooms\n")
                        .getBytes(StandardCharsets.UTF_8));
                assertThat(in.readLine()).isEqualTo("! names are at most " + ChatServer.MAX_NAME + " bytes");
                assertThat(in.readLine()).isEqualTo("! names are at most " + ChatServer.MAX_NAME + " bytes");
                assertThat(in.readLine()).isEqualTo("! names are at most " + ChatServer.MAX_NAME + " bytes");
                String rooms = in.readLine();
                assertThat(rooms.getBytes(StandardCharsets.UTF_8).length).isLessThanOrEqualTo(ChatServer.MAX_LINE);
                Matcher m = Pattern.compile("rooms:((?: \\d{32})+) \\(\\+(\\d+) more\\)").matcher(rooms);
                assertThat(m.matches()).as(rooms).isTrue();
                assertThat(m.group(1).length() / (ChatServer.MAX_NAME + 1) + Integer.parseInt(m.group(2)))
                        .as("listed and counted").isEqualTo(users * ChatServer.MAX_ROOMS);

                out.write(new byte[] {'/', 's', 'a', 'y', ' ', 'r', ' ', (byte) 0xff, '\n'}); // not UTF-8
                assertThat(in.readLine()).isEqualTo("! lines are UTF-8");
            } finally {
                for (Socket s : sockets) {
                    s.close();
                }
            }
        }
    }

    @Test
    void theDemoChatsThroughAServerRestart() {
        assertThat(Main.run("chat", "demo")).isZero();
    }

    @Test
    void theClientChatsOverTlsTrustingTheServersOwnCertificate(@TempDir Path dir) throws Exception {
        boolean openssl = Files.isExecutable(Path.of("/usr/bin/openssl"));
        if (!openssl && "true".equals(System.getenv("CI"))) {
            throw new AssertionError("openssl not found and CI=true: this test must run on CI");
        }
        Assumptions.assumeTrue(openssl, "openssl not found: skipped");
        Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-keyout", "key.pem", "-out", "cert.pem",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")
                .directory(dir.toFile()).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        assertThat(p.waitFor()).isZero();
        Path cert = dir.resolve("cert.pem");
        ServerConfig config = ServerConfig.builder().address("127.0.0.1:0")
                .tls(TlsOptions.tls(cert, dir.resolve("key.pem"), null, null)).build();
        BlockingQueue<String> alice = new LinkedBlockingQueue<>();
        try (ChatServer server = ChatServer.start(config);
             ChatClient a = new ChatClient("localhost:" + server.address().getPort(), TlsOptions.client(cert), "alice",
                     alice::add)) {
            a.join("lobby");
            expect(alice, "* alice joined lobby");
            // The reader may hear the server before the client is up: the offline backlog goes first.
            assertThat(a.client().awaitConnected(Duration.ofSeconds(10))).isTrue();
            assertThat(a.client().sender().connection().tls()).isPresent();
        }
    }
}
