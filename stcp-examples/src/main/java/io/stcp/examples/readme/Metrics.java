package io.stcp.examples.readme;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import io.stcp.framing.LengthFieldReader;
import io.stcp.micrometer.QueueMemoryMetrics;
import io.stcp.micrometer.TcpServerMetrics;

/** The README's metrics: a server's meters in a Micrometer registry. */
public final class Metrics {
    private Metrics() {}

    /** Binds {@code server}'s meters to a new Prometheus registry and returns it. */
    public static MeterRegistry prometheus(TcpServer server) {
        // snippet:start micrometer
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new TcpServerMetrics(server, "gateway").bindTo(registry); // every meter tagged server="gateway"
        new QueueMemoryMetrics().bindTo(registry); // once per process: the send queues' direct memory
        // then serve registry.scrape() at /metrics: the echo example's MetricsEndpoint does it with the JDK's HTTP server
        // snippet:end
        return registry;
    }

    public static void main(String[] args) throws Exception {
        TcpServer server = TcpServer.create(ServerConfig.builder().address("127.0.0.1:0").build(),
                LengthFieldReader.builder().build((sender, body) -> sender.put(body)), SenderFactory.queue(16)).start();
        try {
            System.out.println(prometheus(server).getMeters().size() + " meters");
        } finally {
            server.close();
        }
    }
}
