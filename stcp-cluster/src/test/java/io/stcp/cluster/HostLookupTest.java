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

    /**
     * Closed, a lookup fails the caller waiting for a resolver that does not answer at once, and
     * every later caller without starting another lookup; the answer that comes later is dropped.
     */
    @Test
    void closingFailsTheWaitForALookupUnderWayAndEveryLaterOne() throws Exception {
        AtomicInteger lookups = new AtomicInteger();
        java.util.concurrent.CountDownLatch looking = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch answer = new java.util.concurrent.CountDownLatch(1);
        HostLookup lookup = new HostLookup("redis.stcp.test", "stcp-cluster-test-lookup", host -> {
            lookups.incrementAndGet();
            looking.countDown();
            try {
                answer.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return new InetAddress[] {InetAddress.getLoopbackAddress()};
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        java.util.concurrent.CompletableFuture<Throwable> waiting = new java.util.concurrent.CompletableFuture<>();
        Thread.ofVirtual().start(() -> waiting.complete(org.assertj.core.api.Assertions.catchThrowable(() -> lookup.addresses(deadline))));
        try {
            assertThat(looking.await(20, TimeUnit.SECONDS)).isTrue();
            lookup.close();
            assertThat(waiting.get(5, TimeUnit.SECONDS)).isInstanceOf(java.net.SocketException.class)
                    .hasMessageContaining("the bus closed");
            assertThatThrownBy(() -> lookup.addresses(deadline)).isInstanceOf(java.net.SocketException.class);
            assertThat(lookups).hasValue(1);
        } finally {
            answer.countDown();
        }
    }
}
