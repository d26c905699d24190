package io.stcp.examples.readme;

import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import io.stcp.examples.EchoServer;
import java.time.Duration;

/** The README's graceful shutdown: the Java twin of the Go doc's signal example. */
public final class GracefulShutdown {
    private GracefulShutdown() {}

    public static void main(String[] args) throws Exception {
        // snippet:start graceful-shutdown
        TcpServer server = TcpServer.create(ServerConfig.builder().address(":9000").build(),
                EchoServer.READER, SenderFactory.queue(1024)).start();

        // On SIGINT/SIGTERM: stop accepting, write what every connection has queued, close them,
        // and wait for their exit hooks; whatever is still busy after 10s is closed by force.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                boolean clean = server.shutdown(Duration.ofSeconds(10));
                System.err.println(clean ? "drained" : "forced some connections closed");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
        server.awaitTermination(); // returns once the shutdown has completed
        // snippet:end
    }
}
