package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.SilentListener;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A bus closed while its subscriber connection is still connecting to a Redis that does not answer
 * (its SYNs dropped: a host gone, a firewall) ends that connect at once, as it ends a set-up or a
 * call under way, instead of waiting for the connect timeout: close() waited for the subscriber
 * thread as long as {@code connectTimeout} allowed (up to {@code closeTimeout}, then logged
 * {@code cluster.bus.close.timeout} and left the thread running). Here the connect timeout is 30 s
 * and the close awaited for 5 s. The unanswering Redis is a loopback listener whose accept queue is
 * full: the kernel drops further SYNs.
 */
@ExtendWith(ClusterLeakCheck.class)
class CloseWhileConnectingTest {

    @Test
    void aCloseEndsAConnectToARedisThatDoesNotAnswer() throws Exception {
        try (SilentListener silent = new SilentListener(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            CountDownLatch attempting = new CountDownLatch(1);
            RedisBus bus = RedisBus.create(ClusterConfig.builder("a").redisAddress("127.0.0.1:" + silent.address().getPort())
                    .connectTimeout(Duration.ofSeconds(30)).closeTimeout(Duration.ofSeconds(20)).build());
            try {
                bus.beforeAttempt = attempting::countDown;
                bus.subscribe("a", new CountingListener());
                assertThat(attempting.await(20, TimeUnit.SECONDS)).isTrue();
                Awaitility.await("the subscriber thread in its connect").atMost(Duration.ofSeconds(20))
                        .until(() -> subscriberConnecting());

                long start = System.nanoTime();
                CompletableFuture<Void> close = CompletableFuture.runAsync(bus::close);
                Awaitility.await("close() back, the connect ended").atMost(Duration.ofSeconds(5)).until(close::isDone);
                close.join();
                assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
            } finally {
                bus.close();
            }
        }
    }

    /**
     * A bus closed while its subscriber connection waits for the name lookup of the Redis host, which
     * the resolver does not answer (a DNS server gone), ends at once: the close fails the wait. It
     * used to wait for the subscriber thread, held by the lookup for the whole connect timeout (here
     * 30 s; the close gave up after closeTimeout, 20 s). The lookup's own thread ends when the
     * resolver answers, here at the end of the test.
     */
    @Test
    void aCloseEndsAWaitForANameLookupThatDoesNotAnswer() throws Exception {
        CountDownLatch looking = new CountDownLatch(1);
        CountDownLatch answer = new CountDownLatch(1);
        HostLookup.Resolver hanging = host -> {
            looking.countDown();
            try {
                answer.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new java.net.UnknownHostException(host + ": no answer");
        };
        RedisBus bus = RedisBus.create(ClusterConfig.builder("a").redisAddress("redis.stcp.test:6379")
                .connectTimeout(Duration.ofSeconds(30)).closeTimeout(Duration.ofSeconds(20)).build(), hanging);
        try {
            bus.subscribe("a", new CountingListener());
            assertThat(looking.await(20, TimeUnit.SECONDS)).as("the subscriber's connect looks the host up").isTrue();

            long start = System.nanoTime();
            CompletableFuture<Void> close = CompletableFuture.runAsync(bus::close);
            Awaitility.await("close() back, the wait for the lookup ended").atMost(Duration.ofSeconds(5)).until(close::isDone);
            close.join();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        } finally {
            answer.countDown(); // the lookup's thread ends
            bus.close();
        }
    }

    /** Whether the bus's subscriber thread is blocked connecting. */
    private static boolean subscriberConnecting() {
        for (Thread t : io.stcp.cluster.internal.ClusterThreads.live()) {
            if (t.getName().equals("stcp-cluster-a-redis")) {
                for (StackTraceElement e : t.getStackTrace()) {
                    if (e.getMethodName().equals("connect") && e.getClassName().equals("java.net.Socket")) {
                        return true;
                    }
                }
            }
        }
        return false;
    }
}
