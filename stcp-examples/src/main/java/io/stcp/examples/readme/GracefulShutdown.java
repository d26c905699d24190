package io.stcp.examples.readme;

import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import io.stcp.framing.LengthFieldEncoder;
import io.stcp.framing.LengthFieldReader;
import java.time.Duration;

/** The README's graceful shutdown: the Java twin of the Go doc's signal example. */
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
}
