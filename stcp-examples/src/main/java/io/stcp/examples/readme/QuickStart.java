package io.stcp.examples.readme;

import io.stcp.ConnectionReader;
import io.stcp.QueueSender;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import java.io.EOFException;
import java.time.Duration;
import java.util.Arrays;

/** The README's Quick Start: the Java twin of the Go doc's basic server. */
public final class QuickStart {
    private QuickStart() {}

    public static void main(String[] args) throws Exception {
        // snippet:start quick-start
        // The reader: called in a loop on the connection's own virtual thread; plain blocking code.
        ConnectionReader reader = (sender, conn) -> {
            byte[] buf = new byte[1024];
            int n = conn.read(buf, 0, buf.length);
            if (n < 0) {
                throw new EOFException(); // the peer closed: the connection exits, exit hooks run
            }
            sender.put(Arrays.copyOf(buf, n)); // queue the reply; the send thread writes it
        };

        // One sender per connection: a queue of at most 1024 messages.
        SenderFactory senderFactory = conn -> QueueSender.create(conn, 1024);

        ServerConfig config = ServerConfig.builder()
                .address(":9000")
                .maxConn(1000)
                .writeTimeout(Duration.ofSeconds(5)) // Go: stcp.SetWriteTimeout(5 * time.Second)
                .build();

        TcpServer server = TcpServer.create(config, reader, senderFactory)
                .onConnectionStart(sender -> { /* a connection started */ })
                .onConnectionExit(sender -> { /* a connection ended */ });

        server.start();            // binds now: a taken port throws here
        server.awaitTermination(); // until close(); throws AcceptException if accepting failed for good
        // snippet:end
    }
}
