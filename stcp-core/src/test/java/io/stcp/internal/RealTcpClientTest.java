package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.ClientConfig;
import io.stcp.ConnectionReader;
import io.stcp.NotConnectedException;
import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.DoubleSupplier;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** The client's back-off, resolution and closing through its seams: the resolver, the sleeper, the random source. */
class RealTcpClientTest {
    private static final ConnectionReader READ_FRAMES = (s, c) -> c.readBytes(c.readInt());
    private static final Dialer.Resolver UNKNOWN = (host, port) -> {
        throw new UnknownHostException(host);
    };

    private static RealTcpClient client(ClientConfig config, Dialer.Resolver resolver, AcceptLoop.Sleeper sleeper,
                                        DoubleSupplier random) {
        return new RealTcpClient(config, READ_FRAMES, SenderFactory.queue(8), resolver, sleeper, random, List.of());
    }

    @Test
    void backOffGrowsByTheMultiplierUpToTheMaximumShortenedByItsJitterAndGivesUpAfterMaxAttempts() throws Exception {
        List<Long> sleeps = new CopyOnWriteArrayList<>();
        double[] u = {0.0, 0.5, 0.999, 0.25, 0.0, 0.75, 0.1};
        AtomicInteger draws = new AtomicInteger();
        ClientConfig config = ClientConfig.builder("example.invalid:9000").reconnectDelay(Duration.ofMillis(100))
                .reconnectMultiplier(2.0).reconnectMaxDelay(Duration.ofSeconds(1)).reconnectJitter(0.5).maxAttempts(7).build();
        RealTcpClient c = client(config, UNKNOWN, sleeps::add, () -> u[draws.getAndIncrement()]);
        AtomicInteger gaveUpAfter = new AtomicInteger();
        c.onGiveUp((n, e) -> gaveUpAfter.set(n)).start();
        assertThat(c.awaitTermination(Duration.ofSeconds(10))).isTrue();

        long ms = 1_000_000;
        // base 100, 200, 400, 800, 1000 (capped), 1000; each × (1 - 0.5 × u)
        assertThat(sleeps).containsExactly(100 * ms, 150 * ms, (long) (400 * ms - 400 * ms * 0.5 * 0.999), 700 * ms,
                1000 * ms, 625 * ms);
        assertThat(gaveUpAfter).hasValue(7); // the 7th failure gives up without sleeping again
        assertThat(c.termination()).isCompletedExceptionally();
    }

    @Test
    void everyWaitLiesWithinItsJitterBoundsAndNeverAboveTheMaximum() throws Exception {
        List<Long> sleeps = new CopyOnWriteArrayList<>();
        SplittableRandom random = new SplittableRandom(42);
        ClientConfig config = ClientConfig.builder("example.invalid:9000").reconnectDelay(Duration.ofMillis(10))
                .reconnectMultiplier(1.5).reconnectMaxDelay(Duration.ofMillis(500)).reconnectJitter(0.3).maxAttempts(60).build();
        RealTcpClient c = client(config, UNKNOWN, sleeps::add, random::nextDouble);
        c.start();
        assertThat(c.awaitTermination(Duration.ofSeconds(10))).isTrue();

        assertThat(sleeps).hasSize(59);
        double base = 10e6;
        for (long sleep : sleeps) {
            assertThat((double) sleep).isBetween(base * 0.7 - 1, base);
            base = Math.min(500e6, base * 1.5);
        }
        assertThat(sleeps.subList(20, 59)).allSatisfy(s -> assertThat(s).isBetween(350_000_000L, 500_000_000L));
        // the jitter really varies the waits
        assertThat(sleeps.stream().distinct().count()).isGreaterThan(50);
    }

    /**
     * A jitter of 1.0 against a host that fails at once: however close to 1 the random values come,
     * the client does not dial again without a wait of at least 1 ms.
     */
    @Test
    void aFullJitterNeverDrawsAWaitBelowOneMillisecond() throws Exception {
        List<Long> sleeps = new CopyOnWriteArrayList<>();
        ClientConfig config = ClientConfig.builder("example.invalid:9000").reconnectDelay(ClientConfig.MIN_RECONNECT_DELAY)
                .reconnectMultiplier(2.0).reconnectMaxDelay(Duration.ofMillis(8)).reconnectJitter(1.0).maxAttempts(6).build();
        RealTcpClient c = client(config, UNKNOWN, sleeps::add, () -> 0.999_999_9);
        c.start();
        assertThat(c.awaitTermination(Duration.ofSeconds(10))).isTrue();

        assertThat(sleeps).hasSize(5).containsOnly(1_000_000L);
    }

    /**
     * A server that accepts and at once closes every connection (one at its connection limit, say):
     * each connection is "up" for an instant, and must not start the back-off again, or every
     * client comes back every reconnectDelay for ever, however long the server stays overloaded.
     */
    @Test
    void connectionsThatEndAsSoonAsTheyAreUpDoNotResetTheBackOff() throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8))
                .onConnectionStart(io.stcp.Sender::close)
                .start();
        List<Long> sleeps = new CopyOnWriteArrayList<>();
        AcceptLoop.Sleeper sleeper = nanos -> {
            sleeps.add(nanos);
            AcceptLoop.Sleeper.REAL.sleep(nanos);
        };
        ClientConfig config = ClientConfig.builder("127.0.0.1:" + server.address().getPort())
                .reconnectDelay(Duration.ofMillis(1)).reconnectMultiplier(2.0).reconnectMaxDelay(Duration.ofSeconds(10))
                .reconnectJitter(0).build();
        RealTcpClient c = client(config, Dialer.Resolver.DNS, sleeper, () -> 0.0);
        try {
            c.start();
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> sleeps.size() >= 6);
        } finally {
            c.close();
            assertThat(c.awaitTermination(Duration.ofSeconds(10))).isTrue();
            Echo.stop(server);
        }
        assertThat(c.connectCount()).isGreaterThanOrEqualTo(6); // every attempt connected
        long ms = 1_000_000;
        assertThat(sleeps.subList(0, 6)).containsExactly(ms, 2 * ms, 4 * ms, 8 * ms, 16 * ms, 32 * ms);
    }

    /**
     * DNS is down and the system's resolver waits out its timeouts, deaf to interrupts as
     * getaddrinfo is: close() must still end the client at once, not when the lookup gives up.
     */
    @Test
    void closeDuringAHostLookupEndsTheClientWithoutWaitingForTheLookup() throws Exception {
        CountDownLatch lookingUp = new CountDownLatch(1);
        CountDownLatch dnsAnswers = new CountDownLatch(1);
        Dialer.Resolver stuck = (host, port) -> {
            lookingUp.countDown();
            boolean interrupted = false;
            while (true) {
                try {
                    dnsAnswers.await();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // ignored, as by the system's resolver
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            throw new UnknownHostException("no answer from DNS");
        };
        RealTcpClient c = client(ClientConfig.builder("db.example:9000").build(), stuck, AcceptLoop.Sleeper.REAL, () -> 0.5);
        try {
            c.start();
            assertThat(lookingUp.await(10, TimeUnit.SECONDS)).isTrue();
            c.close();
            assertThat(c.awaitTermination(Duration.ofSeconds(10))).as("ended without the lookup's answer").isTrue();
        } finally {
            dnsAnswers.countDown(); // the lookup ends by itself, later
        }
    }

    @Test
    void theHostIsResolvedAgainOnEveryAttempt() throws Exception {
        TcpServer first = Echo.start();
        TcpServer second = Echo.start();
        AtomicInteger resolutions = new AtomicInteger();
        CountDownLatch firstUp = new CountDownLatch(1);
        // "DNS" points at the first server, then at the second from before the first goes away: a
        // switch at the first's termination left a window (its shutdown under way) in which an
        // attempt resolved to it and connected into its listen queue, a connection more
        AtomicBoolean moved = new AtomicBoolean();
        Dialer.Resolver dns = (host, port) -> {
            resolutions.incrementAndGet();
            return List.of(new InetSocketAddress("127.0.0.1", (moved.get() ? second : first).address().getPort()));
        };
        AtomicInteger onSecond = new AtomicInteger();
        second.onConnectionStart(s -> onSecond.incrementAndGet());
        ClientConfig config = ClientConfig.builder("chat.example:9000").reconnectDelay(Duration.ofMillis(1))
                .reconnectMaxDelay(Duration.ofMillis(5)).build();
        RealTcpClient c = client(config, dns, AcceptLoop.Sleeper.REAL, () -> 0.5);
        try {
            c.onConnect(s -> firstUp.countDown()).start();
            assertThat(firstUp.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(resolutions).hasValue(1);
            moved.set(true);
            Echo.stop(first);
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> onSecond.get() == 1 && c.isConnected());
            assertThat(resolutions.get()).isGreaterThanOrEqualTo(2);
            assertThat(c.connectCount()).isEqualTo(2);
        } finally {
            c.close();
            assertThat(c.awaitTermination(Duration.ofSeconds(10))).isTrue();
            Echo.stop(second);
        }
    }

    @Test
    void closeDuringABackOffWaitReturnsPromptly() throws Exception {
        CountDownLatch sleeping = new CountDownLatch(1);
        AcceptLoop.Sleeper sleeper = nanos -> {
            sleeping.countDown();
            AcceptLoop.Sleeper.REAL.sleep(nanos);
        };
        ClientConfig config = ClientConfig.builder("example.invalid:9000").reconnectDelay(Duration.ofHours(1))
                .reconnectMaxDelay(Duration.ofHours(1)).build();
        RealTcpClient c = client(config, UNKNOWN, sleeper, () -> 0.0);
        c.start();
        assertThat(sleeping.await(10, TimeUnit.SECONDS)).isTrue(); // in a one-hour back-off wait now

        long start = System.nanoTime();
        c.close();
        assertThat(c.awaitTermination(Duration.ofSeconds(5))).isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        assertThat(c.termination()).isCompleted(); // closed, not gave up
    }

    /** The connect timeout bounds an attempt's host lookup too: a resolver that never answers fails the attempt. */
    @Test
    void aHostLookupWithoutAnAnswerFailsTheAttemptAtTheConnectTimeout() throws Exception {
        CountDownLatch dnsAnswers = new CountDownLatch(1);
        Dialer.Resolver silent = (host, port) -> {
            try {
                dnsAnswers.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new UnknownHostException("no answer from DNS");
        };
        ClientConfig config = ClientConfig.builder("db.example:9000").connectTimeout(Duration.ofMillis(300)).maxAttempts(1)
                .build();
        RealTcpClient c = client(config, silent, AcceptLoop.Sleeper.REAL, () -> 0.5);
        AtomicReference<Throwable> cause = new AtomicReference<>();
        try {
            c.onGiveUp((n, e) -> cause.set(e)).start();
            assertThat(c.awaitTermination(Duration.ofSeconds(10))).as("gave up, not waiting for DNS").isTrue();
            assertThat(cause.get()).isInstanceOf(java.net.SocketTimeoutException.class)
                    .hasMessageContaining("db.example").hasMessageContaining("connect timeout");
        } finally {
            dnsAnswers.countDown();
            c.close();
        }
    }

    /**
     * DNS is down and the system's resolver takes tens of seconds to give up, far longer than the
     * connect timeout: the attempts that time out on the lookup must wait for that one lookup, not
     * start one each (with a short timeout and back-off that was hundreds of threads a second, each
     * blocked in the resolver until it gave up).
     */
    @Test
    void aHostLookupThatHangsCostsOneThreadNotOnePerAttempt() throws Exception {
        CountDownLatch dnsAnswers = new CountDownLatch(1);
        AtomicInteger lookups = new AtomicInteger();
        Dialer.Resolver hanging = (host, port) -> {
            lookups.incrementAndGet();
            try {
                dnsAnswers.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new UnknownHostException("no answer from DNS");
        };
        AtomicInteger waits = new AtomicInteger();
        AcceptLoop.Sleeper counting = nanos -> {
            waits.incrementAndGet();
            AcceptLoop.Sleeper.REAL.sleep(nanos);
        };
        ClientConfig config = ClientConfig.builder("db.example:9000").connectTimeout(Duration.ofMillis(10))
                .reconnectDelay(Duration.ofMillis(1)).reconnectMultiplier(1.0).reconnectMaxDelay(Duration.ofMillis(1))
                .build();
        RealTcpClient c = client(config, hanging, counting, () -> 0.5);
        try {
            c.start();
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> waits.get() >= 20); // 20 attempts failed
            assertThat(lookups).as("lookups started while the first hangs").hasValue(1);
            assertThat(Threads.live()).as("stcp threads: the dialler and the one lookup").isLessThanOrEqualTo(2);
        } finally {
            c.close();
            dnsAnswers.countDown();
            assertThat(c.awaitTermination(Duration.ofSeconds(10))).isTrue();
        }
    }

    /** A connect timeout too long to measure is none, not an overflow at every attempt. */
    @Test
    void aConnectTimeoutTooLongToMeasureMeansNone() throws Exception {
        int closedPort;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        ClientConfig config = ClientConfig.builder("db.example:9000")
                .connectTimeout(java.time.temporal.ChronoUnit.FOREVER.getDuration()).maxAttempts(1).build();
        RealTcpClient c = client(config, (host, port) -> List.of(new InetSocketAddress("127.0.0.1", closedPort)),
                AcceptLoop.Sleeper.REAL, () -> 0.5);
        AtomicReference<Throwable> cause = new AtomicReference<>();
        c.onGiveUp((n, e) -> cause.set(e)).start();
        assertThat(c.awaitTermination(Duration.ofSeconds(10))).isTrue();
        assertThat(cause.get()).as("the connect's failure (refused), not an overflow").isInstanceOf(java.io.IOException.class);
    }

    /** An error that only the test throws: a bug in the dial loop, or out of memory there. */
    private static final class DialLoopBroke extends Error {
        DialLoopBroke() {
            super("the dial loop broke", null, false, false);
        }
    }

    /**
     * Something the dial loop does not expect ends its thread (here, the back-off sleep fails with
     * an Error; out of memory would do the same): the client must not go on "running" with nobody
     * dialling — it closes, what it kept is discarded and said so, its termination fails with the
     * error, the failure is logged, and no thread is left (nor does the error escape it).
     */
    @Test
    void aFailureThatEndsTheDialLoopClosesTheClientAndFailsItsTermination() throws Exception {
        DialLoopBroke broke = new DialLoopBroke();
        CountDownLatch sleeping = new CountDownLatch(1);
        CountDownLatch breakNow = new CountDownLatch(1);
        AcceptLoop.Sleeper breaking = nanos -> {
            sleeping.countDown();
            breakNow.await();
            throw broke;
        };
        ClientConfig config = ClientConfig.builder("example.invalid:9000").offlineQueue(10, 0).build();
        RealTcpClient c = client(config, UNKNOWN, breaking, () -> 0.5);
        try (LogCapture logs = LogCapture.of("io.stcp.client")) {
            c.start();
            assertThat(sleeping.await(10, TimeUnit.SECONDS)).isTrue(); // backing off after a failed attempt
            c.put(new byte[] {0, 0, 0, 1, 42}); // kept for the next connection
            breakNow.countDown();

            assertThat(c.awaitTermination(Duration.ofSeconds(10))).as("terminated").isTrue();
            assertThatThrownBy(() -> c.termination().get()).isInstanceOf(ExecutionException.class).hasCause(broke);
            assertThatThrownBy(() -> c.put(new byte[] {0, 0, 0, 0})).isInstanceOf(NotConnectedException.class)
                    .hasMessageContaining("client failed").hasMessageContaining("the dial loop broke");
            assertThat(c.awaitConnected(Duration.ofSeconds(10))).as("closed: no wait for a connection").isFalse();
            assertThatThrownBy(c::start).isInstanceOf(IllegalStateException.class).hasMessage("client closed");
            assertThat(c.shutdown(Duration.ofSeconds(10))).as("the kept message was discarded").isFalse();
            assertThat(logs.events("client.failed")).singleElement().satisfies(e -> {
                assertThat(e.getLevel()).hasToString("ERROR");
                assertThat(e.getThrowableProxy().getMessage()).isEqualTo("the dial loop broke");
            });
        } finally {
            breakNow.countDown();
            c.close();
        }
        // LeakCheck then fails the test if the dialler's thread is left, or the error escaped it
    }
}
