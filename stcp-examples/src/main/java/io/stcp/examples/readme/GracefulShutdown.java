package io.stcp.examples.readme;

import io.stcp.ClientConfig;
import io.stcp.ConnectionReader;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.TcpClient;
import io.stcp.TcpServer;
import io.stcp.framing.LengthFieldEncoder;
import io.stcp.framing.LengthFieldReader;
import java.time.Duration;

/** The README's graceful shutdown: the Java twin of the Go doc's signal example, and a client's. */
public final class GracefulShutdown {
    private GracefulShutdown() {}

    public static void main(String[] args) throws Exception {
        // snippet:start graceful-shutdown
        LengthFieldEncoder encoder = LengthFieldEncoder.standard();
        TcpServer server = TcpServer.create(ServerConfig.builder().address(":9000").build(),
                LengthFieldReader.builder().build((sender, body) -> sender.put(encoder.encode(body))),
                SenderFactory.queue(1024));

        // Serve until SIGINT/SIGTERM; then stop accepting, write what every connection has queued,
        // close them and wait for their exit hooks; whatever is still busy after 10s is closed by force.
        boolean clean = server.runUntilSignal(Duration.ofSeconds(10));
        System.err.println(clean ? "drained" : "forced some connections closed");
        // main returns, and the JVM exits 0
        // snippet:end
    }

    /** A client's {@code main} that runs until a signal: a device simulator, a bot. */
    static void client(ConnectionReader reader) throws Exception {
        // snippet:start client-signal
        TcpClient client = TcpClient.create(ClientConfig.builder("127.0.0.1:9000").build(), reader,
                SenderFactory.queue(256));
        // Run until SIGINT/SIGTERM (starting the client); then write what is queued and kept offline,
        // answer the message in hand and close; whatever is left after 5s is closed by force.
        boolean clean = client.runUntilSignal(Duration.ofSeconds(5));
        System.err.println(clean ? "all sent" : "some messages were not sent");
        // main returns, and the JVM exits 0
        // snippet:end
    }
}
