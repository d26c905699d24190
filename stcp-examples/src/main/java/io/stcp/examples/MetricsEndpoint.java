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
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A Prometheus endpoint for one stcp server: {@code GET http://host:port/metrics} answers the
 * text exposition format with the server's {@link TcpServerMetrics} meters and the
 * {@link QueueMemoryMetrics} gauges, served by the JDK's own HTTP server
 * ({@code com.sun.net.httpserver}, module {@code jdk.httpserver}), each exchange on its own
 * virtual thread.
 *
 * <p><b>Slow peers.</b> Without an executor the JDK's server reads each request on its one
 * dispatcher thread, so a single connection that sends half a request stops every scrape; here
 * the dispatcher only accepts and hands over. A request must arrive within
 * {@value #MAX_REQUEST_SECONDS} s and a response be taken within {@value #MAX_RESPONSE_SECONDS} s
 * (the JDK's {@code sun.net.httpserver.maxReqTime} and {@code maxRspTime}, which this sets unless
 * given on the command line; the JDK reads them once, when its first HTTP server is created).
 *
 * <p><b>Many peers.</b> At most {@value #MAX_CONNECTIONS} connections are open at once (the JDK's
 * {@code jdk.httpserver.maxConnections}, set likewise; its default is no limit): one more is closed
 * as soon as it is accepted. Without it, peers that open connections and send nothing would each
 * hold a file descriptor for up to {@value #MAX_REQUEST_SECONDS} s, as many as they open, and the
 * server being measured shares the process's descriptors.
 *
 * <p><b>Lifecycle.</b> {@link #start} binds and serves at once; {@link #close()} stops serving and
 * may be called more than once.
 *
 * <p>The echo example's ({@code echo --metrics-port}). README points applications here as code to
 * copy, not to call: {@code stcp-examples} is not published. It needs {@code stcp-micrometer},
 * {@code micrometer-registry-prometheus} and the JDK's {@code jdk.httpserver} module.
 */
final class MetricsEndpoint implements AutoCloseable {
    /** The Prometheus text format, version 0.0.4. */
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    static final String PATH = "/metrics";
    /** Seconds a request may take to arrive, unless {@code -Dsun.net.httpserver.maxReqTime} says otherwise. */
    static final int MAX_REQUEST_SECONDS = 10;
    /** Seconds a response may take to be sent, unless {@code -Dsun.net.httpserver.maxRspTime} says otherwise. */
    static final int MAX_RESPONSE_SECONDS = 30;
    /** Connections open at once, unless {@code -Djdk.httpserver.maxConnections} says otherwise. */
    static final int MAX_CONNECTIONS = 64;

    private final HttpServer http;
    private final ExecutorService exchanges;

    private MetricsEndpoint(HttpServer http, ExecutorService exchanges) {
        this.http = http;
        this.exchanges = exchanges;
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
        // The JDK's server waits forever for a request or for a peer to take its response unless
        // told otherwise; it reads these when its first server is created, in seconds.
        setUnlessGiven("sun.net.httpserver.maxReqTime", MAX_REQUEST_SECONDS);
        setUnlessGiven("sun.net.httpserver.maxRspTime", MAX_RESPONSE_SECONDS);
        setUnlessGiven("jdk.httpserver.maxConnections", MAX_CONNECTIONS); // its default: no limit
        HttpServer http = HttpServer.create(new InetSocketAddress(host, port), 0);
        http.createContext(PATH, exchange -> serve(exchange, registry));
        // Each exchange, from reading its request on, on its own thread: a slow peer holds only its own.
        ExecutorService exchanges = Executors.newVirtualThreadPerTaskExecutor();
        http.setExecutor(exchanges);
        http.start();
        return new MetricsEndpoint(http, exchanges);
    }

    private static void setUnlessGiven(String property, int seconds) {
        if (System.getProperty(property) == null) {
            System.setProperty(property, Integer.toString(seconds));
        }
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
        exchanges.shutdownNow(); // an exchange still running is interrupted; its peer sees the socket close
    }
}
