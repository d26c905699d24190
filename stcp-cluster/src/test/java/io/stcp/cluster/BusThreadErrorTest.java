package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * An {@link Error} on the bus's subscriber thread — out of memory while a message is read, a class
 * missing from a hand-made class path (Jedis's {@code redis-authx-core}) — ends that subscription as
 * any failure does: the listener hears that it is lost, and the bus connects again. It used to end
 * the thread: no subscriber from then on, no stcp log line, and a bus that had connected went on
 * saying it was connected while nobody listened.
 */
@ExtendWith(ClusterLeakCheck.class)
class BusThreadErrorTest {
    @TempDir
    Path dir;

    @Test
    void anErrorOnTheSubscriberThreadEndsThatSubscriptionAndTheBusConnectsAgain() throws Exception {
        CountingListener listener = new CountingListener();
        try (RedisServer redis = RedisServer.start(dir)) {
            RedisBus bus = RedisBus.create(Node.config("a", redis).build());
            AtomicBoolean thrown = new AtomicBoolean();
            bus.beforeConnected = j -> { // on the subscriber thread, once the subscription is confirmed
                if (thrown.compareAndSet(false, true)) {
                    // as from a Jedis class missing from the class path; not an OutOfMemoryError,
                    // which a test JVM may take as fatal
                    throw new NoClassDefFoundError("test: redis/clients/authentication/core/Token");
                }
            };
            try {
                bus.subscribe("a", listener);
                Awaitility.await("connected again after the Error").atMost(Duration.ofSeconds(20))
                        .until(() -> listener.connects.get() == 1);
                assertThat(thrown).as("the Error was thrown").isTrue();
                assertThat(listener.disconnects).as("the subscription the Error ended, reported lost").hasValue(1);
                assertThat(bus.isConnected()).isTrue();
            } finally {
                bus.close();
            }
        }
    }
}
