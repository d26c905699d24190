package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.stcp.testing.TestClient;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * stcp behind a real HAProxy (Debian's {@code haproxy}, installed by {@code .ci/run}), with the
 * config of the README ({@code haproxy.cfg} beside this class): {@code send-proxy} and
 * {@code send-proxy-v2} to stcp servers, with health checks. Skipped when haproxy is not
 * installed, except on CI ({@code CI=true}), where it fails instead.
 */
class HaproxyTest {
    private static final String CONFIG = "haproxy.cfg";
    private static final int CLIENTS = 5;

    @TempDir
    Path dir;

    /** The reader: answers each frame with the client's address as the connection sees it. */
    private static final ConnectionReader WHO_AM_I = (sender, conn) -> {
        conn.readBytes(conn.readInt());
        byte[] who = conn.metaInfo().remoteAddress().getBytes(StandardCharsets.UTF_8);
        sender.put(io.stcp.testing.Echo.frame(who));
    };

    private static String haproxy() {
        for (String d : (System.getenv().getOrDefault("PATH", "") + ":/usr/sbin:/usr/local/sbin:/sbin").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, "haproxy"))) {
                return Path.of(d, "haproxy").toString();
            }
        }
        if ("true".equals(System.getenv("CI"))) {
            fail("haproxy is not installed, and CI must run these tests (.ci/run installs it: apt-get install haproxy)");
        }
        Assumptions.abort("haproxy is not installed (apt-get install haproxy): skipping the tests against a real HAProxy");
        return null;
    }

    static String config() throws IOException {
        try (InputStream in = HaproxyTest.class.getResourceAsStream(CONFIG)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static final class Backend {
        final TcpServer server;
        final AtomicInteger started = new AtomicInteger();
        final List<Connection> connections = new java.util.concurrent.CopyOnWriteArrayList<>();

        Backend() throws IOException {
            server = TcpServer.create(ServerConfig.builder().address("127.0.0.1:0")
                    .proxyProtocol(ProxyProtocol.required("127.0.0.1/32")).build(), WHO_AM_I, SenderFactory.queue(16))
                    .onConnectionStart(s -> {
                        started.incrementAndGet();
                        connections.add(s.connection());
                    }).start();
        }

        int port() {
            return server.address().getPort();
        }
    }

    @Test
    void clientsThroughHaproxyAreSeenWithTheirOwnAddressAndHealthChecksAreNotClients() throws Exception {
        String haproxy = haproxy();
        Backend v1 = new Backend();
        Backend v2 = new Backend();
        int front1 = freePort();
        int front2 = freePort();
        String cfg = config().replace("127.0.0.1:8001", "127.0.0.1:" + front1).replace("127.0.0.1:8002", "127.0.0.1:" + front2)
                .replace("127.0.0.1:9001", "127.0.0.1:" + v1.port()).replace("127.0.0.1:9002", "127.0.0.1:" + v2.port())
                .replace("inter 2s", "inter 100ms");
        Path cfgFile = Files.writeString(dir.resolve("haproxy.cfg"), cfg);
        Path log = dir.resolve("haproxy.log");
        Process p = new ProcessBuilder(haproxy, "-db", "-f", cfgFile.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            // Health checks begin once HAProxy listens: then both frontends are up.
            Awaitility.await("health checks from HAProxy (log: " + log + ")").atMost(Duration.ofSeconds(20))
                    .until(() -> v1.server.healthCheckCount() > 0 && v2.server.healthCheckCount() > 0);
            for (Backend b : List.of(v1, v2)) {
                int front = b == v1 ? front1 : front2;
                for (int i = 0; i < CLIENTS; i++) {
                    String from = "127.0.0." + (10 + i);
                    try (TestClient c = TestClient.connectFrom(from, new InetSocketAddress("127.0.0.1", front))) {
                        String seen = new String(c.roundTrip(new byte[] {1}), StandardCharsets.UTF_8);
                        assertThat(seen).as("the address the reader sees").isEqualTo(from + ":" + c.localAddress().getPort());
                    }
                }
            }
            long checks1 = v1.server.healthCheckCount();
            long checks2 = v2.server.healthCheckCount();
            Awaitility.await("more health checks").atMost(Duration.ofSeconds(20))
                    .until(() -> v1.server.healthCheckCount() >= checks1 + 2 && v2.server.healthCheckCount() >= checks2 + 2);
            for (Backend b : List.of(v1, v2)) {
                assertThat(b.server.acceptedCount()).as("clients counted, health checks not").isEqualTo(CLIENTS);
                assertThat(b.started.get()).as("start hooks: clients only").isEqualTo(CLIENTS);
                assertThat(b.server.rejectedCount()).isZero();
                for (Connection c : b.connections) {
                    assertThat(((InetSocketAddress) c.proxiedBy().orElseThrow()).getHostString()).isEqualTo("127.0.0.1");
                }
            }
            ProxyHeader h2 = v2.connections.get(0).proxyHeader().orElseThrow();
            assertThat(h2.version()).isEqualTo(2);
            assertThat(h2.destination()).contains(new InetSocketAddress("127.0.0.1", front2));
            assertThat(h2.uniqueId()).as("HAProxy's unique-id TLV").isPresent();
            assertThat(h2.tlv(ProxyHeader.TYPE_CRC32C)).as("a checksum, verified").isPresent();
            assertThat(v1.connections.get(0).proxyHeader().orElseThrow().version()).isEqualTo(1);
        } finally {
            p.destroy();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            v1.server.close();
            v2.server.close();
            v1.server.awaitTermination(Duration.ofSeconds(10));
            v2.server.awaitTermination(Duration.ofSeconds(10));
        }
    }

    @Test
    void theReadmeShowsTheConfigTheseTestsRun() throws IOException {
        Path readme = Path.of("").toAbsolutePath().getParent().resolve("README.md");
        Matcher m = Pattern.compile("<!-- haproxy-config -->\\s*```\\w*\\n(.*?)```", Pattern.DOTALL)
                .matcher(Files.readString(readme));
        assertThat(m.find()).as("a block marked <!-- haproxy-config --> in " + readme).isTrue();
        assertThat(m.group(1)).isEqualTo(config());
    }
}
