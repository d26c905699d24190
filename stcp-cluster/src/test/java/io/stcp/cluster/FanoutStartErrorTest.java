package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.ConnectionRegistry;
import io.stcp.cluster.internal.ClusterThreads;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * An {@link Error} from an application's {@link ClusterBus} as the cluster subscribes (a class
 * missing from a hand-made class path) leaves nothing running: the delivery and presence threads,
 * started before, end, and the bus is closed, as after a {@link RuntimeException}. Only that was
 * caught: the Error escaped start() with both threads running for good, and no object to close.
 */
@ExtendWith(ClusterLeakCheck.class)
class FanoutStartErrorTest {

    @Test
    void anErrorSubscribingEndsTheThreadsStartedBeforeIt() {
        AtomicBoolean closed = new AtomicBoolean();
        InMemoryBus failingSubscribe = new InMemoryBus() {
            @Override
            public void subscribe(String nodeId, Listener listener) {
                throw new NoClassDefFoundError("test: com/example/BusMetrics");
            }

            @Override
            public void close() {
                closed.set(true);
            }
        };

        assertThatThrownBy(() -> ClusterFanout.start(ClusterConfig.builder("a").build(), ConnectionRegistry.create(),
                failingSubscribe, failingSubscribe)).isInstanceOf(NoClassDefFoundError.class).hasMessageContaining("BusMetrics");

        assertThat(ClusterThreads.live()).as("the delivery and presence threads, ended as start() failed")
                .noneMatch(t -> t.getName().equals("stcp-cluster-a-deliver") || t.getName().equals("stcp-cluster-a-presence"));
        assertThat(closed).as("the bus, closed").isTrue();
    }
}
