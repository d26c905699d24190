package io.stcp.cluster;

import static io.stcp.cluster.Node.frame;
import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ClientConfig;
import io.stcp.ConnectionReader;
import io.stcp.ProxyProtocol;
import io.stcp.Sender;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.TcpClient;
import io.stcp.cluster.Presence.Scope;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The deployment recipe of the README ("Running a cluster"), run for real: a redis-server, three
 * stcp nodes (in this JVM, each with its own server, registry and Redis connections) behind a real
 * HAProxy with PROXY protocol v2 and the README's config ({@code haproxy-cluster.cfg} beside this
 * class), and reconnecting {@link TcpClient}s that connect through HAProxy only.
 */
@ExtendWith(ClusterLeakCheck.class)
class ClusterBehindHaproxyTest {
    private static final String CONFIG = "haproxy-cluster.cfg";
    private static final int USERS = 6;

    @TempDir
    Path dir;

    static String config() throws IOException {
        try (InputStream in = ClusterBehindHaproxyTest.class.getResourceAsStream(CONFIG)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static ConditionFactory await(String what) {
        return Awaitility.await(what).atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(10)).ignoreExceptions();
    }

    /** A user's reconnecting client: logs in (user and group "room") on every connection, keeps what it receives. */
    private static final class User {
        final String name;
        final BlockingQueue<String> received = new LinkedBlockingQueue<>();
        final TcpClient client;

        User(String name, int frontPort) {
            this.name = name;
            ConnectionReader reader = (sender, conn) -> {
                String text = new String(conn.readBytes(conn.readInt()), StandardCharsets.UTF_8);
                if (!text.equals("ok")) {
                    received.add(text);
                }
            };
            this.client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + frontPort).reconnectDelay(Duration.ofMillis(50))
                    .reconnectMaxDelay(Duration.ofMillis(500)).build(), reader, SenderFactory.queue(64))
                    .onConnect(sender -> {
                        sender.put(frame("user:" + name));
                        sender.put(frame("group:room"));
                    });
        }

        String next() throws InterruptedException {
            String m = received.poll(10, TimeUnit.SECONDS);
            assertThat(m).as("a message for " + name).isNotNull();
            return m;
        }
    }

    private static String nodeOf(List<Node> nodes, String user) {
        for (Node n : nodes) {
            if (!n.registry.user(user).isEmpty()) {
                return n.id;
            }
        }
        return null;
    }

    @Test
    void threeNodesBehindHaproxyDeliverAcrossNodesAndFollowClientsThatMoveWhenANodeDies() throws Exception {
        String haproxy = RedisServer.find("haproxy", "haproxy");
        List<AutoCloseable> closeables = new ArrayList<>();
        Process proxy = null;
        RedisServer redis = RedisServer.start(Files.createDirectories(dir.resolve("redis")));
        closeables.add(redis); // closed last
        try {
            Map<String, RedisBus> buses = new LinkedHashMap<>();
            List<Node> nodes = new ArrayList<>();
            for (String id : List.of("a", "b", "c")) {
                ClusterConfig cc = Node.config(id, redis).build();
                RedisBus bus = RedisBus.create(cc);
                buses.put(id, bus);
                Node n = Node.start(cc, ServerConfig.builder().address("127.0.0.1:0")
                        .proxyProtocol(ProxyProtocol.required("127.0.0.1/32")).build(), bus);
                closeables.add(n);
                nodes.add(n);
            }
            Node a = nodes.get(0);
            Node b = nodes.get(1);
            Node c = nodes.get(2);
            int front = RedisServer.freePort();
            String cfg = config().replace("127.0.0.1:9000", "127.0.0.1:" + front)
                    .replace("127.0.0.1:9101", "127.0.0.1:" + a.address().getPort())
                    .replace("127.0.0.1:9102", "127.0.0.1:" + b.address().getPort())
                    .replace("127.0.0.1:9103", "127.0.0.1:" + c.address().getPort())
                    .replace("inter 2s fall 2 rise 2", "inter 100ms fall 1 rise 1");
            Path cfgFile = Files.writeString(dir.resolve("haproxy.cfg"), cfg);
            Path log = dir.resolve("haproxy.log");
            proxy = new ProcessBuilder(haproxy, "-db", "-f", cfgFile.toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            Process started = proxy;
            try {
                await("HAProxy checking all three nodes")
                        .until(() -> !started.isAlive()
                                || nodes.stream().allMatch(n -> n.server.healthCheckCount() > 0 && n.cluster.isConnected()));
                if (!started.isAlive()) {
                    throw new org.awaitility.core.ConditionTimeoutException("haproxy exited with " + started.exitValue());
                }
            } catch (org.awaitility.core.ConditionTimeoutException e) {
                StringBuilder state = new StringBuilder();
                for (Node n : nodes) {
                    state.append(n.id).append(": checks ").append(n.server.healthCheckCount()).append(", connected ")
                            .append(n.cluster.isConnected()).append("; ");
                }
                throw new AssertionError(state + "haproxy alive " + proxy.isAlive() + ", its log:\n" + Files.readString(log), e);
            }

            // Six users through HAProxy, one at a time: leastconn puts two on each node.
            List<User> users = new ArrayList<>();
            for (int i = 1; i <= USERS; i++) {
                User u = new User("u" + i, front);
                closeables.add(u.client);
                users.add(u);
                u.client.start();
                await(u.name + " logged in on some node").until(() -> nodeOf(nodes, u.name) != null
                        && nodes.stream().anyMatch(n -> n.registry.group("room").stream().anyMatch(s -> u.name.equals(n.registry.userOf(s)))));
            }
            for (Node n : nodes) {
                assertThat(n.registry.users()).as("users on node " + n.id).hasSize(2);
                for (Sender s : n.registry.connections()) {
                    assertThat(s.connection().proxiedBy()).as("a client that came through HAProxy, PROXY v2").isPresent();
                    assertThat(s.connection().proxyHeader().orElseThrow().version()).isEqualTo(2);
                }
            }
            RedisBus probe = buses.get("b");
            for (User u : users) {
                String at = nodeOf(nodes, u.name);
                await(u.name + " announced on " + at).until(() -> probe.nodes(Scope.USER, u.name).equals(java.util.Set.of(at)));
            }
            await("room on all three").until(() -> probe.nodes(Scope.GROUP, "room").size() == 3);

            // A message sent via node c to a user connected on node a.
            User onA = users.stream().filter(u -> "a".equals(nodeOf(nodes, u.name))).findFirst().orElseThrow();
            assertThat(c.cluster.sendToUser(onA.name, frame("via c")).forwarded()).isEqualTo(1);
            assertThat(onA.next()).isEqualTo("via c");

            // A group spanning the three nodes: each member connection once.
            assertThat(b.cluster.sendToGroup("room", frame("g1")).forwarded()).isEqualTo(2);
            assertThat(b.cluster.sendToGroup("room", frame("g2")).forwarded()).isEqualTo(2);
            for (User u : users) {
                assertThat(u.next()).isEqualTo("g1");
                assertThat(u.next()).as("no second g1").isEqualTo("g2");
            }

            // Node a dies (its Redis connections and its server vanish; it withdraws nothing).
            List<User> movers = users.stream().filter(u -> "a".equals(nodeOf(nodes, u.name))).toList();
            assertThat(movers).hasSize(2);
            buses.get("a").close();
            a.server.close();
            assertThat(a.server.awaitTermination(Duration.ofSeconds(10))).isTrue();
            for (User u : movers) {
                await(u.name + " back through HAProxy on b or c, in the room, and announced there").until(() -> {
                    String at = nodeOf(nodes.subList(1, 3), u.name);
                    return at != null && u.client.isConnected() && probe.nodes(Scope.USER, u.name).contains(at)
                            && nodes.stream().anyMatch(n -> n.registry.group("room").stream()
                                    .anyMatch(s -> u.name.equals(n.registry.userOf(s))));
                });
            }
            assertThat(movers.getFirst().client.connectCount()).as("connections made").isGreaterThanOrEqualTo(2);
            for (User u : movers) {
                Node sender = "b".equals(nodeOf(nodes, u.name)) ? c : b;
                sender.cluster.sendToUser(u.name, frame("resumed"));
                assertThat(u.next()).isEqualTo("resumed");
            }
            await("a's entries expired").until(() -> !probe.nodes(Scope.GROUP, "room").contains("a"));
            assertThat(c.cluster.sendToGroup("room", frame("g3")).forwarded()).isEqualTo(1);
            assertThat(c.cluster.sendToGroup("room", frame("g4")).forwarded()).isEqualTo(1);
            for (User u : users) {
                assertThat(u.next()).isEqualTo("g3");
                assertThat(u.next()).as("no second g3").isEqualTo("g4");
            }
            for (Node n : List.of(b, c)) {
                assertThat(n.cluster.stats().malformed() + n.cluster.stats().overflow() + n.cluster.stats().unavailable()).isZero();
            }
        } finally {
            Exception failure = null;
            for (AutoCloseable x : closeables.reversed()) {
                try {
                    x.close();
                } catch (Exception e) {
                    if (failure == null) {
                        failure = e;
                    } else {
                        failure.addSuppressed(e);
                    }
                }
            }
            if (proxy != null) {
                proxy.destroy();
                if (!proxy.waitFor(10, TimeUnit.SECONDS)) {
                    proxy.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            }
            if (failure != null) {
                throw failure;
            }
        }
    }

    @Test
    void theReadmeShowsTheConfigThisTestRuns() throws IOException {
        Path readme = Path.of("").toAbsolutePath().getParent().resolve("README.md");
        Matcher m = Pattern.compile("<!-- haproxy-cluster-config -->\\s*```\\w*\\n(.*?)```", Pattern.DOTALL)
                .matcher(Files.readString(readme));
        assertThat(m.find()).as("a block marked <!-- haproxy-cluster-config --> in " + readme).isTrue();
        assertThat(m.group(1)).isEqualTo(config());
    }
}
