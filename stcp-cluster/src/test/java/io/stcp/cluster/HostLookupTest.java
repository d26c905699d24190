package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A lookup whose resolver throws an {@code Error} ends like one that fails: its callers are
 * answered at once, and the next caller starts a new lookup. Before, the lookup's thread died
 * with the lookup still marked under way, and every later caller waited its whole deadline for
 * it: the bus could never connect again.
 */
@ExtendWith(ClusterLeakCheck.class)
class HostLookupTest {
    @Test
    void aResolverThatThrowsAnErrorDoesNotLeaveTheLookupUnderWay() throws Exception {
        AtomicInteger lookups = new AtomicInteger();
        HostLookup lookup = new HostLookup("redis.stcp.test", "stcp-cluster-test-lookup", host -> {
            if (lookups.incrementAndGet() == 1) {
                throw new StackOverflowError("a resolver that fails badly");
            }
            return new InetAddress[] {InetAddress.getLoopbackAddress()};
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        assertThatThrownBy(() -> lookup.addresses(deadline)).isInstanceOf(UnknownHostException.class)
                .hasMessageContaining("a resolver that fails badly");
        assertThat(lookup.addresses(deadline)).containsExactly(InetAddress.getLoopbackAddress());
        assertThat(lookups).hasValue(2);
    }
}
