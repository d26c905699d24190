package io.stcp.cluster.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Nodes that lost the same Redis (it restarted) must not all reconnect, and announce their names,
 * at the same instants: each node's waits are jittered, so that at every step of the back-off
 * they spread below the doubling base, down to a fifth of it, never above it. With waits that
 * were the base exactly, every node waited the same.
 */
class BackoffJitterTest {
    private static final int NODES = 100;
    private static final int STEPS = 8; // 100 ms doubling to 5 s: 100, 200, 400, ..., 3200, 5000, 5000

    @Test
    void theWaitsOfNodesThatLostTheSameRedisSpreadBelowTheDoublingBase() {
        List<Backoff> nodes = new ArrayList<>();
        for (int i = 0; i < NODES; i++) {
            nodes.add(new Backoff(Duration.ofMillis(100), Duration.ofSeconds(5)));
        }
        long base = TimeUnit.MILLISECONDS.toNanos(100);
        for (int step = 0; step < STEPS; step++) {
            Set<Long> waits = new HashSet<>();
            long shortest = Long.MAX_VALUE;
            long longest = 0;
            for (Backoff b : nodes) {
                long w = b.nextNanos();
                waits.add(w);
                shortest = Math.min(shortest, w);
                longest = Math.max(longest, w);
            }
            assertThat(shortest).as("shortest wait at step %d", step).isGreaterThanOrEqualTo(base - base / 5);
            assertThat(longest).as("longest wait at step %d", step).isLessThanOrEqualTo(base);
            // 100 draws over a fifth of the base: all within a tenth of it has a chance of about 100 / 2^99
            assertThat(longest - shortest).as("spread of the %d nodes' waits at step %d (base %d ns)", NODES, step, base)
                    .isGreaterThanOrEqualTo(base / 10);
            assertThat(waits).as("distinct waits at step %d", step).hasSizeGreaterThan(NODES / 2);
            base = Math.min(base * 2, TimeUnit.SECONDS.toNanos(5));
        }
    }
}
