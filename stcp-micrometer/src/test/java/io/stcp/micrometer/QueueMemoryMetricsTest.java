package io.stcp.micrometer;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.stcp.QueueSender;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** The gauges of the send queues' direct memory, over a reading given here and over real traffic. */
class QueueMemoryMetricsTest {

    @Test
    void eachGaugeReadsItsFigureInBytesUnderAStableName() {
        AtomicReference<QueueSender.DirectMemory> now = new AtomicReference<>(new QueueSender.DirectMemory(1, 2, 3));
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new QueueMemoryMetrics(now::get, Tags.of("app", "gw")).bindTo(registry);

        now.set(new QueueSender.DirectMemory(65536, 131072, 1L << 30));

        assertThat(gauge(registry, "stcp.queue.direct.used").value()).isEqualTo(65536);
        assertThat(gauge(registry, "stcp.queue.direct.held").value()).isEqualTo(131072);
        assertThat(gauge(registry, "stcp.queue.direct.limit").value()).isEqualTo(1L << 30);
        assertThat(gauge(registry, "stcp.queue.direct.used").getId().getTag("app")).isEqualTo("gw");
        assertThat(registry.scrape()).contains("stcp_queue_direct_used_bytes{app=\"gw\"} 65536")
                .contains("stcp_queue_direct_held_bytes{app=\"gw\"} 131072")
                .contains("stcp_queue_direct_limit_bytes{app=\"gw\"} 1.073741824E9");
    }

    @Test
    void largeRepliesForAPeerThatIsNotReadingShowAsUsedUntilItReadsThem() throws Exception {
        int size = 200_000;
        int replies = 40; // 8 MB: more than the socket buffers hold, so some wait in the queue
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            conn.readInt();
            for (int i = 0; i < replies; i++) {
                sender.put(Echo.frame(new byte[size]));
            }
        }, QueueSender.options().capacity(64).maxBytes(16L << 20)::build).start();
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new QueueMemoryMetrics().bindTo(registry);
        Gauge used = gauge(registry, "stcp.queue.direct.used");
        double before = used.value();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendFrame(new byte[0]);

            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> used.value() > before);
            assertThat(gauge(registry, "stcp.queue.direct.held").value()).isGreaterThanOrEqualTo(used.value());
            assertThat(gauge(registry, "stcp.queue.direct.limit").value())
                    .isEqualTo(QueueSender.directMemory().limitBytes());

            for (int i = 0; i < replies; i++) {
                assertThat(client.readFrame()).hasSize(size);
            }
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> used.value() == before);
        } finally {
            Echo.stop(server);
        }
    }

    private static Gauge gauge(PrometheusMeterRegistry registry, String name) {
        return registry.get(name).gauge();
    }
}
