package io.stcp.micrometer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.stcp.CloseReason;
import io.stcp.ConnectionReader;
import io.stcp.ProxyProtocol;
import io.stcp.QueueSender;
import io.stcp.RejectReason;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.ServerStats;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import io.stcp.testing.ProxyHeaders;
import io.stcp.testing.TestClient;
import java.net.BindException;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** The meters after real traffic on a real server, and how snapshots are taken per scrape. */
class TcpServerMetricsTest {

    @Test
    void everyCountOfTheServerIsAMeterTaggedWithItsName() throws Exception {
        ConnectionReader reader = (sender, conn) -> {
            int length = conn.readInt();
            if (length < 0) {
                throw new java.net.ProtocolException("negative length");
            }
            sender.put(Echo.frame(conn.readBytes(length)));
        };
        TcpServer server = TcpServer.create(Echo.loopback().maxConn(2).build(), reader,
                QueueSender.options().capacity(16)::build).start();
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        new TcpServerMetrics(server, "echo", Tags.of("region", "test")).bindTo(registry);
        try {
            try (TestClient a = TestClient.connect(server.address())) {
                for (int i = 0; i < 10; i++) {
                    assertThat(a.roundTrip(new byte[100])).hasSize(100);
                }
            }
            try (TestClient bad = TestClient.connect(server.address())) {
                bad.sendRaw(new byte[] {-1, -1, -1, -1});
                assertThat(bad.awaitClosedByServer()).isTrue();
            }
            Awaitility.await().until(() -> server.connectionCount() == 0);
            try (TestClient live = TestClient.connect(server.address());
                 TestClient second = TestClient.connect(server.address())) {
                assertThat(live.roundTrip(new byte[] {1})).hasSize(1);
                assertThat(second.roundTrip(new byte[] {2})).hasSize(1);
                try (TestClient refused = TestClient.connect(server.address())) {
                    assertThat(refused.awaitClosedByServer()).isTrue(); // maxConn 2
                }
                // A reply can reach the client before the reader call that sent it is counted (when it
                // returns) and before its write is (after the write); the meters read the same counts.
                Awaitility.await().until(() -> server.stats().messagesIn() >= 12 && server.stats().messagesOut() >= 12);
                assertThat(gauge(registry, "stcp.connections.active")).isEqualTo(2);
                assertThat(counter(registry, "stcp.connections.accepted")).isEqualTo(4);
                assertThat(counter(registry, "stcp.connections.rejected", "reason", "maxConn")).isEqualTo(1);
                assertThat(counter(registry, "stcp.connections.closed", "reason", "PEER_CLOSED")).isEqualTo(1);
                assertThat(counter(registry, "stcp.connections.closed", "reason", "PROTOCOL_ERROR")).isEqualTo(1);
                assertThat(counter(registry, "stcp.connections.closed", "reason", "WRITE_TIMEOUT")).isZero();
                assertThat(counter(registry, "stcp.received.messages")).isEqualTo(12);
                assertThat(counter(registry, "stcp.sent.messages")).isEqualTo(12);
                assertThat(counter(registry, "stcp.received.bytes")).isEqualTo(10 * 104 + 4 + 2 * 5);
                assertThat(counter(registry, "stcp.sent.bytes")).isEqualTo(10 * 104 + 2 * 5);
                assertThat(counter(registry, "stcp.accept.errors")).isZero();
                assertThat(gauge(registry, "stcp.queue.messages")).isZero();
                assertThat(gauge(registry, "stcp.queue.bytes")).isZero();
                for (String zero : new String[] {"conflated", "dropped", "discarded", "rejected"}) {
                    assertThat(counter(registry, "stcp.queue." + zero)).as(zero).isZero();
                }
            }
        } finally {
            Echo.stop(server);
        }
        assertThat(registry.getMeters()).allSatisfy(m -> {
            assertThat(m.getId().getName()).startsWith("stcp.");
            assertThat(m.getId().getTag("server")).isEqualTo("echo");
            assertThat(m.getId().getTag("region")).isEqualTo("test");
        });
        assertThat(registry.find("stcp.connections.closed").meters()).hasSize(CloseReason.values().length);
        assertThat(registry.get("stcp.received.bytes").meter().getId().getBaseUnit()).isEqualTo("bytes");
    }

    @Test
    void aPrometheusScrapeTakesOneSnapshotAndShowsTheConventionalNames() {
        AtomicInteger snapshots = new AtomicInteger();
        Supplier<ServerStats> source = () -> {
            snapshots.incrementAndGet();
            return stats(7, 1234, Map.of("maxConn", 2L));
        };
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new TcpServerMetrics(source, "gw", Tags.empty(), System::nanoTime).bindTo(registry);

        int before = snapshots.get();
        String text = registry.scrape();
        assertThat(snapshots.get() - before).as("snapshots per scrape").isEqualTo(1);
        registry.scrape();
        assertThat(snapshots.get() - before).as("the next scrape takes a new one").isEqualTo(2);

        assertThat(text).contains("stcp_connections_active{server=\"gw\"} 3")
                .contains("stcp_connections_accepted_total{server=\"gw\"} 7")
                .contains("stcp_connections_rejected_total{reason=\"maxConn\",server=\"gw\"} 2")
                .contains("stcp_connections_closed_total{reason=\"SLOW_CONSUMER\",server=\"gw\"} 0")
                .contains("stcp_received_bytes_total{server=\"gw\"} 1234")
                .contains("stcp_sent_bytes_total{server=\"gw\"}")
                .contains("stcp_received_messages_total{server=\"gw\"}")
                .contains("stcp_sent_messages_total{server=\"gw\"}")
                .contains("stcp_queue_messages{server=\"gw\"}")
                .contains("stcp_queue_bytes{server=\"gw\"}")
                .contains("stcp_accept_errors_total{server=\"gw\"}")
                .contains("stcp_queue_conflated_total{server=\"gw\"}")
                .contains("stcp_queue_dropped_total{server=\"gw\"}")
                .contains("stcp_queue_discarded_total{server=\"gw\"}")
                .contains("stcp_queue_rejected_total{server=\"gw\"}")
                .contains("stcp_tls_handshakes_total{result=\"ok\",server=\"gw\"} 0")
                .contains("stcp_tls_handshakes_total{result=\"failed\",server=\"gw\"} 0")
                .contains("stcp_health_checks_total{server=\"gw\"} 0");
    }

    /**
     * A proxy's health checks have a meter of their own, as they are in neither accepted nor
     * closed: they were in no meter, so a balancer that checked a server nobody used showed nothing.
     */
    @Test
    void aProxysHealthChecksAreCountedByTheirOwnMeter() throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().proxyProtocol(ProxyProtocol.required("127.0.0.1/32")).build(),
                Echo.READER, SenderFactory.queue(16)).start();
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        new TcpServerMetrics(server, "checked").bindTo(registry);
        try {
            for (int i = 0; i < 2; i++) {
                try (TestClient check = TestClient.connect(server.address())) {
                    check.sendRaw(ProxyHeaders.v2Local().bytes());
                    assertThat(check.awaitClosedByServer()).isTrue();
                }
            }
            Awaitility.await().until(() -> server.healthCheckCount() == 2 && server.connectionCount() == 0);
            assertThat(counter(registry, "stcp.health.checks")).isEqualTo(2);
            assertThat(server.stats().healthChecks()).isEqualTo(2);
            assertThat(counter(registry, "stcp.connections.accepted")).isZero();
            assertThat(registry.find("stcp.connections.closed").functionCounters())
                    .allSatisfy(c -> assertThat(c.count()).isZero());
        } finally {
            Echo.stop(server);
        }
    }

    /** A source of snapshots that goes back (the server's no longer does): the meter does not. */
    @Test
    void aCounterNeverGoesBackEvenIfASnapshotMissedAConnectionEndingMeanwhile() {
        AtomicReference<ServerStats> next = new AtomicReference<>(stats(5, 1000, Map.of()));
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        new TcpServerMetrics(next::get, "s", Tags.empty(), System::nanoTime).bindTo(registry);
        assertThat(counter(registry, "stcp.received.bytes")).isEqualTo(1000);
        next.set(stats(5, 900, Map.of()));
        assertThat(counter(registry, "stcp.received.bytes")).isEqualTo(1000);
        next.set(stats(6, 1100, Map.of()));
        assertThat(counter(registry, "stcp.received.bytes")).isEqualTo(1100);
        assertThat(counter(registry, "stcp.connections.accepted")).isEqualTo(6);
    }

    @Test
    void aRejectReasonThatAppearsLaterGetsItsOwnSeriesInEveryRegistry() {
        AtomicReference<ServerStats> next = new AtomicReference<>(stats(1, 0, Map.of()));
        SimpleMeterRegistry first = new SimpleMeterRegistry();
        SimpleMeterRegistry second = new SimpleMeterRegistry();
        TcpServerMetrics metrics = new TcpServerMetrics(next::get, "s", Tags.empty(), System::nanoTime);
        metrics.bindTo(first);
        metrics.bindTo(second);
        assertThat(first.find("stcp.connections.rejected").tag("reason", "perIp").meters()).isEmpty();

        next.set(stats(1, 0, Map.of("perIp", 3L)));
        counter(first, "stcp.connections.accepted"); // a scrape: the snapshot shows the new reason
        counter(first, "stcp.connections.accepted"); // the next one
        for (MeterRegistry r : new MeterRegistry[] {first, second}) {
            assertThat(counter(r, "stcp.connections.rejected", "reason", "perIp")).isEqualTo(3);
            assertThat(counter(r, "stcp.connections.rejected", "reason", "maxConn")).isZero();
        }
    }

    /** A series that appears with its first count shows no increase to Prometheus' rate(): every known reason is there at 0. */
    @Test
    void everyRejectReasonHasItsSeriesAtZeroBeforeItFirstHappens() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        new TcpServerMetrics(() -> stats(0, 0, Map.of()), "s", Tags.empty(), System::nanoTime).bindTo(registry);
        for (RejectReason r : RejectReason.values()) {
            assertThat(counter(registry, "stcp.connections.rejected", "reason", r.key())).as(r.key()).isZero();
        }
        assertThat(registry.find("stcp.connections.rejected").meters()).hasSize(RejectReason.values().length);
    }

    /** The registry's common tags are in every meter's id: a second binder for the same server is still refused. */
    @Test
    void aSecondBinderForTheSameServerIsRefusedInARegistryWithCommonTags() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        registry.config().commonTags("application", "x");
        try (TcpServerMetrics first = new TcpServerMetrics(() -> stats(1, 0, Map.of()), "gw", Tags.empty(),
                     System::nanoTime);
             TcpServerMetrics second = new TcpServerMetrics(() -> stats(2, 0, Map.of()), "gw", Tags.empty(),
                     System::nanoTime)) {
            first.bindTo(registry);
            assertThatThrownBy(() -> second.bindTo(registry)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("close()");
            first.close();
            second.bindTo(registry);
            assertThat(counter(registry, "stcp.connections.accepted")).isEqualTo(2);
        }
    }

    /** Meters of the same server name with other tags are other meters: no conflict. */
    @Test
    void aBinderWithTheSameNameAndOtherTagsBindsBesideALiveOne() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (TcpServerMetrics eu = new TcpServerMetrics(() -> stats(1, 0, Map.of()), "gw", Tags.of("region", "eu"),
                     System::nanoTime);
             TcpServerMetrics plain = new TcpServerMetrics(() -> stats(2, 0, Map.of()), "gw", Tags.empty(),
                     System::nanoTime)) {
            eu.bindTo(registry);
            plain.bindTo(registry);
            assertThat(registry.find("stcp.connections.accepted").tag("server", "gw").meters()).hasSize(2);
            assertThat(registry.get("stcp.connections.accepted").tags(Tags.of("server", "gw", "region", "eu"))
                    .functionCounter().count()).isEqualTo(1);
        }
    }

    /**
     * A registry that refuses one of the meters (another type under the same name) is left as it
     * was: the meters made before it are gone, and a retry or another binder of the name binds.
     */
    @Test
    void aBindingTheRegistryRefusesIsUndoneSoThatALaterOneBinds() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        Counter squatter = registry.counter("stcp.queue.bytes", "server", "gw"); // a gauge of the binder's
        TcpServerMetrics first = new TcpServerMetrics(() -> stats(1, 0, Map.of()), "gw", Tags.empty(), System::nanoTime);
        assertThatThrownBy(() -> first.bindTo(registry)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("stcp.queue.bytes");
        assertThat(registry.getMeters()).as("the meters registered before the refused one").containsExactly(squatter);
        registry.remove(squatter);
        first.bindTo(registry);
        assertThat(counter(registry, "stcp.connections.accepted")).isEqualTo(1);
        first.close();
        registry.counter("stcp.queue.bytes", "server", "gw");
        TcpServerMetrics second = new TcpServerMetrics(() -> stats(2, 0, Map.of()), "gw", Tags.empty(), System::nanoTime);
        assertThatThrownBy(() -> second.bindTo(registry)).isInstanceOf(IllegalArgumentException.class);
        registry.clear();
        try (TcpServerMetrics third = new TcpServerMetrics(() -> stats(3, 0, Map.of()), "gw", Tags.empty(),
                System::nanoTime)) {
            third.bindTo(registry);
            assertThat(counter(registry, "stcp.connections.accepted")).isEqualTo(3);
        }
    }

    @Test
    void aMeterReadOnItsOwnAfterASecondGetsAFreshSnapshot() {
        AtomicLong now = new AtomicLong();
        AtomicReference<ServerStats> next = new AtomicReference<>(stats(1, 10, Map.of()));
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        new TcpServerMetrics(next::get, "s", Tags.empty(), now::get).bindTo(registry);
        assertThat(counter(registry, "stcp.connections.accepted")).isEqualTo(1);
        next.set(stats(2, 20, Map.of()));
        assertThat(counter(registry, "stcp.received.bytes")).as("same scrape, same snapshot").isEqualTo(10);
        next.set(stats(3, 77, Map.of()));
        now.addAndGet(TimeUnit.MILLISECONDS.toNanos(1001));
        assertThat(counter(registry, "stcp.received.messages")).as("first read of this meter, but too old")
                .isEqualTo(30);
    }

    /**
     * A server stopped and replaced by a new one under the same name: the registry keeps the first
     * binder's meters (one set per name and tags), so a second binder that bound silently would
     * have its server measured by the old one's counts forever.
     */
    @Test
    void aServerReplacedUnderTheSameNameIsMeasuredOnceTheOldMetersAreClosed() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        TcpServer old = Echo.start();
        TcpServerMetrics oldMetrics = new TcpServerMetrics(old, "gateway");
        oldMetrics.bindTo(registry);
        try (TestClient c = TestClient.connect(old.address())) {
            assertThat(c.roundTrip(new byte[] {1})).hasSize(1);
        }
        Echo.stop(old);
        assertThat(counter(registry, "stcp.connections.accepted")).as("kept after the stop").isEqualTo(1);

        TcpServer replacement = Echo.start();
        try {
            TcpServerMetrics metrics = new TcpServerMetrics(replacement, "gateway");
            assertThatThrownBy(() -> metrics.bindTo(registry)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("close()");
            oldMetrics.close();
            assertThat(registry.getMeters()).isEmpty();
            metrics.bindTo(registry);
            for (int i = 0; i < 3; i++) {
                try (TestClient c = TestClient.connect(replacement.address())) {
                    assertThat(c.roundTrip(new byte[] {2})).hasSize(1);
                }
            }
            assertThat(counter(registry, "stcp.connections.accepted")).isEqualTo(3);
            metrics.close();
            metrics.close(); // idempotent
            assertThat(registry.getMeters()).isEmpty();
            assertThatThrownBy(() -> metrics.bindTo(registry)).isInstanceOf(IllegalStateException.class);
        } finally {
            Echo.stop(replacement);
        }
    }

    /**
     * A binder bound before a start() that fails (its port taken) keeps its meters, at 0: the server
     * has not run, but is not closed, and may be started yet (as here, once the port is free), when
     * they count it. Closing the binder is what removes them (the class comment, Lifecycle).
     */
    @Test
    void metersBoundBeforeAStartThatFailsStayAtZeroUntilTheBinderIsClosed() throws Exception {
        TcpServer holder = Echo.start();
        String taken = "127.0.0.1:" + holder.address().getPort();
        TcpServer server = TcpServer.create(ServerConfig.builder().address(taken).build(), Echo.READER,
                SenderFactory.queue(8));
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        TcpServerMetrics metrics = new TcpServerMetrics(server, "early");
        metrics.bindTo(registry);
        try {
            assertThatThrownBy(server::start).isInstanceOf(BindException.class);
            assertThat(registry.getMeters()).as("kept: the server may be started yet").isNotEmpty();
            assertThat(gauge(registry, "stcp.connections.active")).isZero();
            assertThat(counter(registry, "stcp.connections.accepted")).isZero();

            Echo.stop(holder); // the port is free: the same server starts now, measured by the same meters
            server.start();
            try (TestClient c = TestClient.connect(server.address())) {
                assertThat(c.roundTrip(new byte[] {1})).hasSize(1);
            }
            assertThat(counter(registry, "stcp.connections.accepted")).isEqualTo(1);

            metrics.close();
            assertThat(registry.getMeters()).isEmpty();
        } finally {
            metrics.close();
            Echo.stop(server);
            Echo.stop(holder);
        }
    }

    @Test
    void theServerNameMustNotBeBlank() {
        assertThatThrownBy(() -> new TcpServerMetrics(() -> stats(0, 0, Map.of()), " ", Tags.empty(), System::nanoTime))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("name");
    }

    /** Stats with 3 live connections, the given totals and 10 messages in per accepted connection; else 0. */
    private static ServerStats stats(long accepted, long bytesIn, Map<String, Long> rejected) {
        return new ServerStats(3, accepted, rejected, Map.of(), 0, bytesIn, 0, 10 * accepted, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    }

    private static double counter(MeterRegistry registry, String name, String... tags) {
        return registry.get(name).tags(tags).functionCounter().count();
    }

    private static double gauge(MeterRegistry registry, String name) {
        return registry.get(name).gauge().value();
    }
}
