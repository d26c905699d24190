package io.stcp.cluster.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.ConnectionRegistry;
import io.stcp.Sender;
import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.cluster.BusException;
import io.stcp.cluster.ClusterConfig;
import io.stcp.cluster.ClusterUnavailableException;
import io.stcp.cluster.InMemoryBus;
import io.stcp.cluster.Presence;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.Test;

/**
 * The fanout's lines write what went wrong, a failure's text, under {@code error}, as the server's
 * and the client's lines do; {@code reason} is kept for a category. They wrote it under
 * {@code reason}: {@code cluster.presence.failed}, {@code cluster.node.claim.failed},
 * {@code cluster.send.unavailable}, {@code cluster.close.withdraw}, {@code cluster.receive.malformed};
 * and {@code cluster.node.duplicate}'s advice, fixed text, under {@code reason} too: now {@code why}
 * and {@code fix}, as {@code server.reuseport.migrate_off}'s. No Redis: the presence is the test's.
 */
class FailureLineKeysTest {
    private static final String DOWN = "test: redis down";

    private static ConditionFactory await(String what) {
        return Awaitility.await(what).atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(10));
    }

    private static ClusterConfig config() {
        // No periodic full refresh during the test: one claim, at start
        return ClusterConfig.builder("a").presenceRefresh(Duration.ofMinutes(1)).presenceTtl(Duration.ofMinutes(2))
                .reconnectDelay(Duration.ofMillis(50)).reconnectMaxDelay(Duration.ofMillis(100)).build();
    }

    private static Map<String, Object> first(LogCapture log, String event) {
        await(event).until(() -> !log.events(event).isEmpty());
        return LogCapture.fields(log.events(event).getFirst());
    }

    @Test
    void aFailingPresenceIsLoggedWithWhatWentWrongUnderError() throws Exception {
        FailingPresence presence = new FailingPresence();
        ConnectionRegistry registry = ConnectionRegistry.create();
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16)).registry(registry).start();
        try (LogCapture log = LogCapture.of(RealClusterFanout.class.getName()); TestClient client = TestClient.connect(server.address())) {
            RealClusterFanout cluster = RealClusterFanout.start(config(), registry, new InMemoryBus(), presence);
            try {
                // Not the bus's failure: its text and its stack trace
                ILoggingEvent claim = await("cluster.node.claim.failed").until(() -> log.events("cluster.node.claim.failed"),
                        l -> !l.isEmpty()).getFirst();
                assertThat(LogCapture.fields(claim)).containsEntry("error", "java.lang.IllegalStateException: test: ACL refuses the key")
                        .doesNotContainKey("reason");
                assertThat(claim.getThrowableProxy()).isNotNull();

                await("the client registered").until(() -> registry.connectionCount() == 1);
                Sender s = registry.connections().iterator().next();
                cluster.bindUser(s, "alice");
                assertThat(first(log, "cluster.presence.failed")).containsEntry("error", DOWN).containsKey("retryIn")
                        .doesNotContainKey("reason");
                await("alice announced after the failed step").until(() -> presence.announced.get());

                assertThatThrownBy(() -> cluster.sendToUser("bob", "hi".getBytes(StandardCharsets.UTF_8)))
                        .isInstanceOf(ClusterUnavailableException.class);
                assertThat(first(log, "cluster.send.unavailable")).hasEntrySatisfying("error", e -> assertThat(e).asString().contains(DOWN))
                        .doesNotContainKey("reason");
            } finally {
                cluster.close(); // its withdrawal of alice fails
            }
            assertThat(first(log, "cluster.close.withdraw")).containsEntry("error", DOWN).containsEntry("left", 1)
                    .doesNotContainKey("reason");
        } finally {
            server.close();
            assertThat(server.awaitTermination(Duration.ofSeconds(10))).isTrue();
        }
    }

    @Test
    void aDuplicateNodeSaysWhyAndTheFix() {
        Presence taken = new FailingPresence() {
            @Override
            public String claim(String nodeId, String instance) {
                return "another-instance";
            }
        };
        try (LogCapture log = LogCapture.of(RealClusterFanout.class.getName())) {
            RealClusterFanout cluster = RealClusterFanout.start(config(), ConnectionRegistry.create(), new InMemoryBus(), taken);
            try {
                assertThat(first(log, "cluster.node.duplicate")).containsEntry("other", "another-instance").containsKeys("why", "fix")
                        .doesNotContainKey("reason");
            } finally {
                cluster.close();
            }
        }
    }

    @Test
    void aMalformedMessageIsLoggedWithWhatIsWrongUnderError() {
        Delivery delivery = new Delivery(config(), ConnectionRegistry.create(), () -> true);
        try (LogCapture log = LogCapture.of(RealClusterFanout.class.getName())) {
            delivery.tooLong(10, 5);
            assertThat(first(log, "cluster.receive.malformed")).containsEntry("error", "length 10 (expected: <= 5), skipped unread")
                    .containsEntry("bytes", 10L).doesNotContainKey("reason");
        }
    }

    /**
     * Its claim throws (not the bus's failure: an ACL, say), its first announce and every lookup
     * and withdrawal fail as the bus fails; announces after the first succeed.
     */
    private static class FailingPresence implements Presence {
        final AtomicBoolean announced = new AtomicBoolean();
        private final AtomicBoolean failed = new AtomicBoolean();

        @Override
        public Set<String> nodes(Scope scope, String name) {
            throw new BusException(DOWN);
        }

        @Override
        public void announce(String nodeId, Scope scope, Collection<String> names) {
            if (!names.isEmpty() && failed.compareAndSet(false, true)) {
                throw new BusException(DOWN);
            }
            if (!names.isEmpty()) {
                announced.set(true);
            }
        }

        @Override
        public void withdraw(String nodeId, Scope scope, Collection<String> names) {
            throw new BusException(DOWN);
        }

        @Override
        public String claim(String nodeId, String instance) {
            throw new IllegalStateException("test: ACL refuses the key");
        }
    }
}
