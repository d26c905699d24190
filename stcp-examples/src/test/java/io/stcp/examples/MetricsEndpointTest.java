package io.stcp.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

class MetricsEndpointTest {

    @Test
    void aPeerThatSendsHalfARequestDoesNotStopTheScrapes() throws Exception {
        try (TcpServer server = EchoServer.create(ServerConfig.builder().address("127.0.0.1:0").build(), 16).start();
             MetricsEndpoint metrics = MetricsEndpoint.start(server, "echo", "127.0.0.1", 0);
             HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build()) {
            URI uri = URI.create("http://127.0.0.1:" + metrics.address().getPort() + MetricsEndpoint.PATH);
            try (Socket stalled = new Socket("127.0.0.1", metrics.address().getPort())) {
                OutputStream out = stalled.getOutputStream();
                out.write("GET /metrics HTTP/1.1\r\nHost: 127".getBytes(StandardCharsets.US_ASCII)); // and no more
                out.flush();
                // A scrape after it, and one while it waits: the half request holds only its own exchange.
                for (int i = 0; i < 2; i++) {
                    HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).GET()
                            .build(), HttpResponse.BodyHandlers.ofString());
                    assertThat(r.statusCode()).isEqualTo(200);
                    assertThat(r.body()).contains("stcp_connections_active{server=\"echo\"}");
                }
            }
        }
    }

    /** Peers that connect and say nothing take at most MAX_CONNECTIONS descriptors; one more is closed at once. */
    @Test
    void connectionsBeyondTheLimitAreClosedAtOnceAndTheLimitFreesAsTheyLeave() throws Exception {
        try (TcpServer server = EchoServer.create(ServerConfig.builder().address("127.0.0.1:0").build(), 16).start();
             MetricsEndpoint metrics = MetricsEndpoint.start(server, "echo", "127.0.0.1", 0);
             HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build()) {
            int port = metrics.address().getPort();
            List<Socket> idle = new ArrayList<>();
            try {
                for (int i = 0; i < MetricsEndpoint.MAX_CONNECTIONS; i++) {
                    idle.add(new Socket("127.0.0.1", port));
                }
                try (Socket extra = new Socket("127.0.0.1", port)) {
                    extra.setSoTimeout(5_000); // the JDK's own request timeout (10 s) would close it later
                    int read;
                    try {
                        read = extra.getInputStream().read();
                    } catch (SocketException reset) {
                        read = -1;
                    }
                    assertThat(read).as("closed by the endpoint").isEqualTo(-1);
                }
            } finally {
                for (Socket s : idle) {
                    s.close();
                }
            }
            URI uri = URI.create("http://127.0.0.1:" + port + MetricsEndpoint.PATH);
            Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).ignoreExceptions().until(() -> http.send(
                    HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(2)).GET().build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode() == 200);
        }
    }
}
