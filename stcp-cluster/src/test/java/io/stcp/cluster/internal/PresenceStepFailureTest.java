package io.stcp.cluster.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ConnectionRegistry;
import io.stcp.Sender;
import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.cluster.ClusterConfig;
import io.stcp.cluster.InMemoryBus;
import io.stcp.cluster.Presence;
import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.io.IOException;
import java.time.Duration;
import java.util.Collection;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.Test;

/**
 * Nothing a failed presence step leads to ends the presence thread, and the names it carried are
 * announced later: not an {@link Error} while they are put back in the sets for the next step
 * (out of memory: the sets grow there), which used to escape the catch meant to keep the thread
 * going (no line, and no name announced again), nor a checked exception from an application's
 * {@link Presence} (thrown unchecked, as Kotlin or Lombok's {@code @SneakyThrows} do), which
 * nothing caught. No Redis: the bus and presence are the test's, so that they can fail.
 */
class PresenceStepFailureTest {

    private static ConditionFactory await(String what) {
        return Awaitility.await(what).atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(10));
    }

    @Test
    void anErrorPuttingTheFailedStepsNamesBackDoesNotEndThePresenceThreadAndTheyAreAnnouncedLater() throws Exception {
        FailingPresence presence = new FailingPresence(new NoClassDefFoundError("test: com/example/PresenceMetrics"));
        AtomicBoolean markThrew = new AtomicBoolean();
        runUntilAliceIsAnnounced(presence, cluster -> cluster.presenceSync.beforeMarkAgain = () -> {
            if (markThrew.compareAndSet(false, true)) {
                // as out of memory growing the sets would; not an OutOfMemoryError, which a test JVM may take as fatal
                throw new NoClassDefFoundError("test: java/util/HashMap$Node");
            }
        });
        assertThat(markThrew).as("putting the names back threw").isTrue();
    }

    @Test
    void aCheckedExceptionFromTheApplicationsPresenceFailsThatStepOnly() throws Exception {
        runUntilAliceIsAnnounced(new FailingPresence(new IOException("test: the application's store is down")), cluster -> { });
    }

    /** Binds alice; the first announce fails as {@code presence} says: alice is announced after the back-off all the same. */
    private static void runUntilAliceIsAnnounced(FailingPresence presence, java.util.function.Consumer<RealClusterFanout> arm)
            throws Exception {
        ConnectionRegistry registry = ConnectionRegistry.create();
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16)).registry(registry).start();
        // No periodic full refresh during the test: only the failure path can bring alice back.
        RealClusterFanout cluster = RealClusterFanout.start(ClusterConfig.builder("a").presenceRefresh(Duration.ofMinutes(1))
                .presenceTtl(Duration.ofMinutes(2)).reconnectDelay(Duration.ofMillis(50)).reconnectMaxDelay(Duration.ofMillis(100)).build(),
                registry, new InMemoryBus(), presence);
        try (TestClient client = TestClient.connect(server.address())) {
            arm.accept(cluster);
            await("the client registered").until(() -> registry.connectionCount() == 1);
            Sender s = registry.connections().iterator().next();
            cluster.bindUser(s, "alice");

            await("alice announced after the failed step").until(() -> presence.announced().contains("alice"));
            assertThat(presence.thrown).as("the announce threw").isTrue();
            assertThat(cluster.stats().presenceFailures()).as("presence failures").isEqualTo(1);
        } finally {
            cluster.close();
            server.close();
            assertThat(server.awaitTermination(Duration.ofSeconds(10))).isTrue();
        }
        assertThat(ClusterThreads.live()).as("the cluster's threads, ended by close()")
                .noneMatch(t -> t.getName().startsWith("stcp-cluster-a-"));
    }

    /** Keeps the users announced; its first announce of a name throws {@code failure}, unchecked whatever it is. */
    private static final class FailingPresence implements Presence {
        private final Throwable failure;
        private final Set<String> users = new HashSet<>();
        final AtomicBoolean thrown = new AtomicBoolean();

        FailingPresence(Throwable failure) {
            this.failure = failure;
        }

        @Override
        public Set<String> nodes(Scope scope, String name) {
            return Set.of();
        }

        @Override
        public synchronized void announce(String nodeId, Scope scope, Collection<String> names) {
            if (!names.isEmpty() && thrown.compareAndSet(false, true)) {
                throw Sneaky.<RuntimeException>sneaky(failure);
            }
            if (scope == Scope.USER) {
                users.addAll(names);
            }
        }

        @Override
        public synchronized void withdraw(String nodeId, Scope scope, Collection<String> names) {
            if (scope == Scope.USER) {
                users.removeAll(names);
            }
        }

        synchronized Set<String> announced() {
            return Set.copyOf(users);
        }
    }

    private static final class Sneaky {
        @SuppressWarnings("unchecked")
        static <T extends Throwable> T sneaky(Throwable t) throws T {
            throw (T) t;
        }
    }
}
