package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.Echo;
import io.stcp.testing.ProcessWatchdog;
import io.stcp.testing.ProxyHeaders;
import io.stcp.testing.TestClient;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Unix domain sockets: the same readers and senders as TCP, the socket file's life, the peer's credentials. */
class UnixSocketTest {
    @TempDir
    Path dir;

    private final BlockingQueue<Connection> started = new LinkedBlockingQueue<>();

    private TcpServer start(ServerConfig.Builder config) throws IOException {
        return TcpServer.create(config.build(), Echo.READER, SenderFactory.queue(16))
                .onConnectionStart(s -> started.add(s.connection())).start();
    }

    private static ServerConfig.Builder unix(Path path) {
        return ServerConfig.builder().address("unix:" + path);
    }

    private static SocketChannel connect(Path path) throws IOException {
        return SocketChannel.open(UnixDomainSocketAddress.of(path));
    }

    private static byte[] roundTrip(SocketChannel ch, String text) throws IOException {
        ByteBuffer out = ByteBuffer.wrap(Echo.frame(text.getBytes(StandardCharsets.UTF_8)));
        while (out.hasRemaining()) {
            ch.write(out);
        }
        DataInputStream in = new DataInputStream(Channels.newInputStream(ch));
        return in.readNBytes(in.readInt());
    }

    @Test
    void theEchoServerWorksOverAUnixSocket() throws Exception {
        Path path = dir.resolve("echo.sock");
        TcpServer server = start(unix(path));
        try (SocketChannel ch = connect(path)) {
            assertThat(server.localAddress()).isEqualTo(UnixDomainSocketAddress.of(path));
            assertThatThrownBy(server::address).isInstanceOf(IllegalStateException.class).hasMessageContaining("localAddress()");
            for (int i = 0; i < 100; i++) {
                assertThat(roundTrip(ch, "hello " + i)).asString().isEqualTo("hello " + i);
            }
            Connection conn = started.poll(10, TimeUnit.SECONDS);
            assertThat(conn.remoteAddress()).isInstanceOf(UnixDomainSocketAddress.class);
            assertThat(conn.localAddress()).isEqualTo(UnixDomainSocketAddress.of(path));
            assertThat(conn.metaInfo().remoteAddress()).isEqualTo("unix:");
            assertThat(((io.stcp.internal.RealConnection) conn).transportName()).as("the JVM's transport, epoll included")
                    .isEqualTo(io.stcp.internal.Transports.name());
            assertThat(server.toString()).contains("unix:" + path);
        } finally {
            Echo.stop(server);
        }
        assertThat(Files.exists(path)).as("the socket file is removed on close").isFalse();
    }

    @Test
    void socatAndPythonClientsAreServed() throws Exception {
        Path path = dir.resolve("tools.sock");
        TcpServer server = start(unix(path));
        try {
            byte[] request = ProxyHeaders.concat(Echo.frame("one".getBytes(StandardCharsets.UTF_8)),
                    Echo.frame("two".getBytes(StandardCharsets.UTF_8)));
            boolean socat = Tools.onPath("socat");
            boolean python = Tools.onPath("python3");
            Assumptions.assumeTrue(socat || python || Tools.ci(), "neither socat nor python3 is installed");
            assertThat(socat || python).as("socat or python3 on the PATH (CI installs socat)").isTrue();
            if (socat) {
                // stdin's end makes socat shut its side down; the server answers both frames, then closes.
                assertThat(Tools.run(request, "socat", "-t", "10", "-", "UNIX-CONNECT:" + path)).isEqualTo(request);
            }
            if (python) {
                String script = "import socket,sys\n"
                        + "s=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM); s.connect(sys.argv[1])\n"
                        + "s.sendall(sys.stdin.buffer.read()); s.shutdown(socket.SHUT_WR)\n"
                        + "out=b''\n"
                        + "while True:\n"
                        + "    d=s.recv(4096)\n"
                        + "    if not d: break\n"
                        + "    out+=d\n"
                        + "sys.stdout.buffer.write(out)\n";
                assertThat(Tools.run(request, "python3", "-c", script, path.toString())).isEqualTo(request);
            }
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aStaleSocketFileIsReplacedButALiveServersAndOtherFilesAreNot() throws Exception {
        Path path = dir.resolve("stale.sock");
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            dead.bind(UnixDomainSocketAddress.of(path)); // closing it leaves the file behind, as a crash does
        }
        assertThat(Files.exists(path)).isTrue();
        TcpServer server = start(unix(path));
        try (SocketChannel ch = connect(path)) {
            assertThat(roundTrip(ch, "after a crash")).asString().isEqualTo("after a crash");
            TcpServer second = TcpServer.create(unix(path).build(), Echo.READER, SenderFactory.queue(1));
            assertThatThrownBy(second::start).isInstanceOf(BindException.class).hasMessageContaining("a server is listening");
            assertThat(roundTrip(ch, "still here")).asString().isEqualTo("still here");
        } finally {
            Echo.stop(server);
        }
        Path file = Files.writeString(dir.resolve("data.txt"), "keep me");
        TcpServer onFile = TcpServer.create(unix(file).build(), Echo.READER, SenderFactory.queue(1));
        assertThatThrownBy(onFile::start).isInstanceOf(BindException.class).hasMessageContaining("not a socket");
        assertThat(Files.readString(file)).isEqualTo("keep me");
    }

    @Test
    void aLiveServerWhoseQueueIsFullFailsTheStartInsteadOfHangingIt() throws Exception {
        Path path = dir.resolve("busy.sock");
        List<SocketChannel> queued = new ArrayList<>();
        CompletableFuture<TcpServer> starting = new CompletableFuture<>();
        try (ServerSocketChannel hung = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            hung.bind(UnixDomainSocketAddress.of(path), 1); // a server that accepts nothing, as a hung one
            boolean full = false;
            for (int i = 0; i < 100 && !full; i++) {
                SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
                queued.add(c);
                c.configureBlocking(false);
                try {
                    c.connect(UnixDomainSocketAddress.of(path));
                } catch (IOException queueFull) {
                    full = true;
                }
            }
            assertThat(full).as("the listener's queue is full").isTrue();
            TcpServer second = TcpServer.create(unix(path).build(), Echo.READER, SenderFactory.queue(1));
            Thread t = new Thread(() -> {
                try {
                    starting.complete(second.start());
                } catch (Throwable e) {
                    starting.completeExceptionally(e);
                }
            }, "test-start");
            t.setDaemon(true);
            t.start();
            assertThatThrownBy(() -> starting.get(10, TimeUnit.SECONDS)).as("start() fails, within 10 s")
                    .isInstanceOf(ExecutionException.class).cause().isInstanceOf(BindException.class)
                    .hasMessageContaining("not refused");
            assertThat(Files.exists(path)).as("the live server's file is left alone").isTrue();
        } finally {
            for (SocketChannel c : queued) {
                c.close();
            }
            // a start stuck in its probe (the old code) goes on once the listener has closed: stop what it started
            try {
                Echo.stop(starting.get(10, TimeUnit.SECONDS));
            } catch (ExecutionException refused) {
                // what it should do
            }
        }
    }

    @Test
    void permissionsAreInPlaceBeforeTheFileAppears() throws Exception {
        Path path = dir.resolve("private.sock");
        TcpServer server = start(unix(path).unixSocketPermissions("rw-------"));
        try (SocketChannel ch = connect(path)) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(path))).isEqualTo("rw-------");
            assertThat(roundTrip(ch, "x")).asString().isEqualTo("x");
            try (Stream<Path> files = Files.list(dir)) {
                assertThat(files.map(p -> p.getFileName().toString()).toList()).as("no staging directory left")
                        .containsExactly("private.sock");
            }
        } finally {
            Echo.stop(server);
        }
        assertThat(Files.exists(path)).isFalse();
    }

    @Test
    void aPathThatFitsIsServedWithPermissionsToo() throws Exception {
        // 100 bytes: within the 107 a socket path may have, and served without permissions
        String name = "echo.sock";
        Path parent = Files.createDirectory(dir.resolve("d".repeat(100 - dir.toString().length() - 2 - name.length())));
        Path path = parent.resolve(name);
        assertThat(path.toString()).hasSize(100);
        TcpServer server = start(unix(path).unixSocketPermissions("rw-------"));
        try (SocketChannel ch = connect(path)) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(path))).isEqualTo("rw-------");
            assertThat(roundTrip(ch, "long")).asString().isEqualTo("long");
            try (Stream<Path> files = Files.list(parent)) {
                assertThat(files.map(p -> p.getFileName().toString()).toList()).as("no staging directory left")
                        .containsExactly(name);
            }
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void reusePortTakesThePathOverFromALiveServerWhichKeepsItsConnections() throws Exception {
        Path path = dir.resolve("handover.sock");
        TcpServer old = start(unix(path));
        TcpServer next = null;
        try (SocketChannel before = connect(path)) {
            assertThat(roundTrip(before, "old")).asString().isEqualTo("old");
            next = start(unix(path).reusePort(true));
            try (SocketChannel after = connect(path)) {
                assertThat(roundTrip(after, "new")).asString().isEqualTo("new");
            }
            assertThat(next.acceptedCount()).isEqualTo(1);
            assertThat(roundTrip(before, "old again")).asString().isEqualTo("old again");
            assertThat(old.acceptedCount()).isEqualTo(1);
            before.close();
            assertThat(old.drain(Duration.ofSeconds(10))).isTrue();
            assertThat(Files.exists(path)).as("the old server leaves its successor's file alone").isTrue();
            try (SocketChannel later = connect(path)) {
                assertThat(roundTrip(later, "later")).asString().isEqualTo("later");
            }
        } finally {
            Echo.stop(old);
            if (next != null) {
                Echo.stop(next);
            }
        }
        assertThat(Files.exists(path)).isFalse();
    }

    @Test
    void thePeersCredentialsAreTheConnectingProcesssUser() throws Exception {
        Path path = dir.resolve("creds.sock");
        TcpServer server = start(unix(path));
        try (SocketChannel ch = connect(path)) {
            assertThat(roundTrip(ch, "who")).hasSize(3);
            PeerCredentials c = started.poll(10, TimeUnit.SECONDS).peerCredentials().orElseThrow();
            Path mine = Files.createFile(dir.resolve("mine"));
            assertThat(c.user().getName()).isEqualTo(Files.getOwner(mine).getName());
        } finally {
            Echo.stop(server);
        }
        TcpServer tcp = start(Echo.loopback());
        try (TestClient c = TestClient.connect(tcp.address())) {
            assertThat(c.roundTrip(new byte[] {1})).hasSize(1);
            assertThat(started.poll(10, TimeUnit.SECONDS).peerCredentials()).as("TCP has none").isEmpty();
        } finally {
            Echo.stop(tcp);
        }
    }

    @Test
    void readAndWriteTimeoutsHoldOnUnixSockets() throws Exception {
        Path path = dir.resolve("timeouts.sock");
        BlockingQueue<CloseReason> exits = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(unix(path).readIdleTimeout(Duration.ofSeconds(1))
                        .writeTimeout(Duration.ofMillis(300)).build(), (sender, conn) -> {
                    int n = conn.readInt();
                    for (int i = 0; i < n; i++) {
                        conn.write(new byte[64 << 10]); // on the reader's thread: blocks once the peer stops reading
                    }
                }, SenderFactory.queue(16)).onConnectionExit(s -> exits.add(s.connection().closeReason())).start();
        try (SocketChannel idle = connect(path)) {
            assertThat(exits.poll(10, TimeUnit.SECONDS)).isEqualTo(CloseReason.READ_TIMEOUT);
            try (SocketChannel stuck = connect(path)) {
                stuck.write(ByteBuffer.allocate(4).putInt(0, 1000)); // 64 MB it never reads
                assertThat(exits.poll(10, TimeUnit.SECONDS)).isEqualTo(CloseReason.WRITE_TIMEOUT);
            }
            assertThat(idle.read(ByteBuffer.allocate(1))).as("the idle one was closed").isEqualTo(-1);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aProxyHeaderOverAUnixSocketIsTrusted() throws Exception {
        Path path = dir.resolve("proxied.sock");
        TcpServer server = start(unix(path).proxyProtocol(ProxyProtocol.required("192.0.2.0/24")));
        InetSocketAddress client = new InetSocketAddress("192.0.2.99", 1234);
        try (SocketChannel ch = connect(path)) {
            ByteBuffer header = ByteBuffer.wrap(ProxyHeaders.v2(client, new InetSocketAddress("192.0.2.1", 80)).bytes());
            while (header.hasRemaining()) {
                ch.write(header);
            }
            assertThat(roundTrip(ch, "p")).asString().isEqualTo("p");
            Connection conn = started.poll(10, TimeUnit.SECONDS);
            assertThat(conn.remoteAddress()).isEqualTo(client);
            assertThat(conn.proxiedBy().orElseThrow()).isInstanceOf(UnixDomainSocketAddress.class);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aDialledUnixSocketRunsAsAConnectionWithTimeouts() throws Exception {
        Path path = dir.resolve("dial.sock");
        TcpServer server = start(unix(path));
        try (SocketChannel ch = connect(path)) {
            Connection conn = Connection.of(ch);
            conn.readTimeout(Duration.ofMillis(100));
            assertThatThrownBy(conn::readInt).isInstanceOf(ReadTimeoutException.class);
            conn.write(Echo.frame(new byte[] {5, 6}));
            conn.readTimeout(Duration.ofSeconds(10)); // the echo's round trip: 100 ms is no margin on a loaded machine
            assertThat(conn.readInt()).as("still usable after the timeout").isEqualTo(2);
            assertThat(conn.readBytes(2)).containsExactly(5, 6);
            conn.close();
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void addressesAreWrittenAsTheirListenForm() {
        assertThat(io.stcp.internal.HostPort.format(UnixDomainSocketAddress.of("/run/app.sock"))).isEqualTo("unix:/run/app.sock");
        assertThatThrownBy(() -> ServerConfig.builder().address("unix:").build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("empty path");
        assertThat(ServerConfig.builder().address("unix:rel.sock").build().address()).isEqualTo("unix:rel.sock");
    }

    @Test
    void aPathLongerThanASocketsAddressHoldsIsRefusedByTheConfigNotAtEveryDial() {
        String longest = "unix:/" + "a".repeat(106); // 107 bytes
        assertThat(ClientConfig.builder(longest).build().address()).isEqualTo(longest);
        assertThat(ServerConfig.builder().address(longest).build().address()).isEqualTo(longest);
        String over = "unix:/" + "a".repeat(105) + "\u00e9"; // 108 bytes, 107 characters
        assertThatThrownBy(() -> ClientConfig.builder(over).build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("a path of 108 bytes").hasMessageContaining("at most 107");
        assertThatThrownBy(() -> ServerConfig.builder().address(over).build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("a path of 108 bytes");
    }

    /** External tools for the tests. */
    static final class Tools {
        private Tools() {}

        static boolean ci() {
            return "true".equals(System.getenv("CI"));
        }

        static boolean onPath(String tool) {
            String path = System.getenv().getOrDefault("PATH", "");
            for (String d : (path + ":/usr/sbin:/usr/local/sbin:/sbin").split(":")) {
                if (!d.isEmpty() && Files.isExecutable(Path.of(d, tool))) {
                    return true;
                }
            }
            return false;
        }

        /** Runs a command with {@code stdin}, returns its standard output; fails if it takes over 20 s or exits non-zero. */
        static byte[] run(byte[] stdin, String... command) throws Exception {
            Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            try (ProcessWatchdog watchdog = ProcessWatchdog.watch(p, Duration.ofSeconds(20))) {
                p.getOutputStream().write(stdin);
                p.getOutputStream().close();
                byte[] out = p.getInputStream().readAllBytes();
                watchdog.assertNotFired("its output to end");
                assertThat(p.waitFor(20, TimeUnit.SECONDS)).as(command[0] + " finished").isTrue();
                assertThat(p.exitValue()).as(command[0] + " exit code").isZero();
                return out;
            } finally {
                p.destroyForcibly();
            }
        }
    }
}
