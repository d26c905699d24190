package io.stcp.examples.readme;

import io.stcp.ConnectionReader;
import io.stcp.ConnectionRegistry;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import io.stcp.cluster.ClusterConfig;
import io.stcp.cluster.ClusterFanout;
import io.stcp.cluster.ClusterUnavailableException;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * The README's cluster node ("Running a cluster"): compiled here, run for real (three nodes behind
 * HAProxy on a real Redis) by stcp-cluster's ClusterBehindHaproxyTest.
 */
final class ClusterSnippet {
    private ClusterSnippet() {
    }

    static byte[] line(String text) {
        return (text + "\n").getBytes(StandardCharsets.UTF_8);
    }

    static TcpServer node(String nodeId, ServerConfig serverConfig) throws IOException {
        // snippet:start cluster
        ConnectionRegistry local = ConnectionRegistry.create();
        ClusterFanout cluster = ClusterFanout.start(ClusterConfig.builder(nodeId) // unique per node: "node-a"
                .redisAddress("10.0.0.7:6379")
                .redisPassword(System.getenv("REDIS_PASSWORD"))             // null: no AUTH
                .build(), local);
        ConnectionReader reader = (me, conn) -> {
            byte[] text = conn.readLine(1024);
            if (text == null) {
                throw new EOFException();
            }
            String[] words = new String(text, StandardCharsets.UTF_8).split(" ", 3);
            switch (words[0]) {
                case "login" -> cluster.bindUser(me, words[1]);  // announced to every node, in the background
                case "join" -> cluster.joinGroup(me, words[1]);
                case "say" -> {
                    try {
                        cluster.sendToGroup(words[1], line(words[2])); // members here and on every node
                    } catch (ClusterUnavailableException e) {        // Redis down: this node's members only
                        me.put(line("! sent to " + e.localResult().accepted() + " on this server"
                                + (e.outcomeUnknown() ? ", maybe to the others" : " only"))); // EXEC's reply lost
                    }
                }
                default -> me.put(line("! unknown command"));
            }
        };
        TcpServer server = TcpServer.create(serverConfig, reader, SenderFactory.queue(1024))
                .registry(local)                                   // what the cluster serves here
                .start();
        // at shutdown: server.shutdown(grace), then cluster.close() (withdraws this node's presence)
        // snippet:end
        return server;
    }
}
