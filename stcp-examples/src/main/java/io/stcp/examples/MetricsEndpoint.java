package io.stcp.examples;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.stcp.TcpServer;
import io.stcp.micrometer.QueueMemoryMetrics;
import io.stcp.micrometer.TcpServerMetrics;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * A Prometheus endpoint for one stcp server: {@code GET http://host:port/metrics} answers the
 * text exposition format with the server's {@link TcpServerMetrics} meters and the
 * {@link QueueMemoryMetrics} gauges, served by the JDK's own HTTP server
 * ({@code com.sun.net.httpserver}, module {@code jdk.httpserver}) on one thread.
 *
 * <p><b>Lifecycle.</b> {@link #start} binds and serves at once; {@link #close()} stops serving and
 * may be called more than once.
 */
final class MetricsEndpoint implements AutoCloseable {
    /** The Prometheus text format, version 0.0.4. */
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    static final String PATH = "/metrics";

    private final HttpServer http;

    private MetricsEndpoint(HttpServer http) {
        this.http = http;
    }

    /**
     * Serves {@code server}'s meters, tagged {@code server=name}, on {@code host:port} (port 0: any
     * free port, see {@link #address()}).
     *
     * @throws IOException if the address cannot be bound
     */
    static MetricsEndpoint start(TcpServer server, String name, String host, int port) throws IOException {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new TcpServerMetrics(server, name).bindTo(registry);
        new QueueMemoryMetrics().bindTo(registry);
        HttpServer http = HttpServer.create(new InetSocketAddress(host, port), 0);
        http.createContext(PATH, exchange -> serve(exchange, registry));
        http.start();
        return new MetricsEndpoint(http);
    }

    private static void serve(HttpExchange exchange, PrometheusMeterRegistry registry) throws IOException {
        try (exchange) {
            if (!"GET".equals(exchange.getRequestMethod())) {
                exchange.getResponseHeaders().set("Allow", "GET");
                exchange.sendResponseHeaders(405, -1);
                return;
            }
            byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", CONTENT_TYPE);
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }

    /** The bound address. */
    InetSocketAddress address() {
        return http.getAddress();
    }

    @Override
    public void close() {
        http.stop(0);
    }
}
