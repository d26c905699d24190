package io.stcp.cluster;

import io.stcp.ConnectionReader;
import io.stcp.ConnectionRegistry;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.function.UnaryOperator;

/**
 * One node of a test cluster: a TcpServer with its registry and a ClusterFanout on Redis. Its
 * clients speak length-prefixed frames: {@code user:NAME} binds the connection to a user and
 * {@code group:NAME} joins a group (both through the cluster, and answered with {@code ok}),
 * {@code ping} is answered with {@code pong}; everything the cluster sends them is a frame too.
 */
final class Node implements AutoCloseable {
    final String id;
    final ConnectionRegistry registry = ConnectionRegistry.create();
    final ClusterFanout cluster;
    final TcpServer server;

    private Node(String id, ClusterConfig config, ServerConfig serverConfig, ClusterBus bus,
            UnaryOperator<ConnectionRegistry> registryView, Presence presence) throws IOException {
        this.id = id;
        this.cluster = ClusterFanout.start(config, registryView.apply(registry), bus, presence);
        try {
            this.server = TcpServer.create(serverConfig, reader(cluster), SenderFactory.queue(1024)).registry(registry).start();
        } catch (IOException | RuntimeException e) {
            cluster.close();
            throw e;
        }
    }

    static Node start(ClusterConfig config) throws IOException {
        return start(config, Echo.loopback().build());
    }

    static Node start(ClusterConfig config, ServerConfig serverConfig) throws IOException {
        return start(config, serverConfig, RedisBus.create(config));
    }

    /** A node on {@code bus}, which the test may close on its own to stop the node without cleanup. */
    static Node start(ClusterConfig config, ServerConfig serverConfig, RedisBus bus) throws IOException {
        return new Node(config.nodeId(), config, serverConfig, bus, UnaryOperator.identity(), bus);
    }

    /**
     * A node on {@code bus} whose cluster sees its registry through {@code registryView} and keeps
     * its presence in {@code presence}: for tests that make them fail.
     */
    static Node start(ClusterConfig config, ClusterBus bus, UnaryOperator<ConnectionRegistry> registryView, Presence presence)
            throws IOException {
        return new Node(config.nodeId(), config, Echo.loopback().build(), bus, registryView, presence);
    }

    /** A test configuration: short TTLs and back-off, so that expiry and reconnects happen within a test. */
    static ClusterConfig.Builder config(String nodeId, RedisServer redis) {
        return ClusterConfig.builder(nodeId).redisAddress(redis.address()).keyPrefix("test:")
                .presenceTtl(Duration.ofMillis(1500)).presenceRefresh(Duration.ofMillis(250))
                .connectTimeout(Duration.ofSeconds(1)).commandTimeout(Duration.ofSeconds(1))
                .reconnectDelay(Duration.ofMillis(50)).reconnectMaxDelay(Duration.ofMillis(250));
    }

    static ConnectionReader reader(ClusterFanout cluster) {
        return (sender, conn) -> {
            String cmd = new String(conn.readBytes(conn.readInt()), StandardCharsets.UTF_8);
            if (cmd.startsWith("user:")) {
                cluster.bindUser(sender, cmd.substring(5));
                sender.put(frame("ok"));
            } else if (cmd.startsWith("group:")) {
                cluster.joinGroup(sender, cmd.substring(6));
                sender.put(frame("ok"));
            } else if (cmd.equals("ping")) {
                sender.put(frame("pong"));
            } else {
                throw new IOException("unknown command: " + cmd);
            }
        };
    }

    static byte[] frame(String text) {
        return Echo.frame(text.getBytes(StandardCharsets.UTF_8));
    }

    InetSocketAddress address() {
        return server.address();
    }

    @Override
    public void close() throws Exception {
        Exception failure = null;
        try {
            cluster.close();
        } catch (RuntimeException e) {
            failure = e;
        }
        server.close();
        if (!server.awaitTermination(Duration.ofSeconds(10))) {
            AssertionError e = new AssertionError("server " + id + " did not terminate");
            if (failure != null) {
                e.addSuppressed(failure);
            }
            throw e;
        }
        if (failure != null) {
            throw failure;
        }
    }
}
