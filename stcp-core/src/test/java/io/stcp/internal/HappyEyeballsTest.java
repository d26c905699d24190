package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.SilentListener;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/**
 * A dial to several addresses on real loopback sockets: 127.0.0.2 drops SYNs (a listener whose
 * accept queue is full, one for the class), the port's other addresses listen (the kernel
 * completes the handshake without an accept) or refuse. The connector opens real channels and
 * records them, so that each test can see every socket the race opened closed but the winner's.
 */
class HappyEyeballsTest {
    private static final long MS = 1_000_000;
    private static SilentListener silent;
    private static int port;
    private static InetSocketAddress dropping; // set with the port

    private final List<ServerSocketChannel> listeners = new CopyOnWriteArrayList<>();
    private final List<SocketChannel> opened = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void dropSyns() throws Exception {
        silent = new SilentListener(new InetSocketAddress("127.0.0.2", 0));
        port = silent.address().getPort();
        dropping = silent.address();
    }

    @AfterAll
    static void stopDropping() throws Exception {
        silent.close();
    }

    @AfterEach
    void closeAll() throws IOException {
        for (ServerSocketChannel l : listeners) {
            l.close();
        }
        for (SocketChannel ch : opened) {
            ch.close();
        }
    }

    private static InetSocketAddress at(String ip) {
        return new InetSocketAddress(ip, port);
    }

    /** Listens on {@code ip} at the class's port: a connect there is complete when the kernel says so. */
    private InetSocketAddress listening(String ip) throws IOException {
        ServerSocketChannel l = ServerSocketChannel.open().bind(at(ip), 16);
        listeners.add(l);
        return at(ip);
    }

    /** Opens, records and connects a channel, as the Dialer does: a real connect, its channel closed if it fails. */
    private final HappyEyeballs.Connector recording = (remote, timeoutNanos) -> {
        SocketChannel ch = SocketChannel.open();
        opened.add(ch);
        try {
            ch.socket().connect(remote, timeoutNanos == 0 ? 0 : (int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(timeoutNanos)));
            return ch;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    };

    private static HappyEyeballs race(List<InetSocketAddress> remotes, Duration timeout, long delayNanos,
                                      HappyEyeballs.Connector connector) {
        return new HappyEyeballs("h.stcp.test:" + port, remotes, Nanos.deadlineAfter(timeout), delayNanos, timeout, connector);
    }

    /** Every channel opened is closed, but {@code winner}; every try's thread has ended. */
    private void onlyOpen(SocketChannel winner) {
        assertThat(opened).filteredOn(SocketChannel::isOpen).as("open channels").containsExactly(winner);
        assertThat(Threads.live()).as("tries still running").isZero();
    }

    @Test
    void theFamiliesTakeTurnsStartingWithTheFirstAddresss() {
        InetSocketAddress v6a = new InetSocketAddress("::1", 1);
        InetSocketAddress v6b = new InetSocketAddress("::2", 1);
        InetSocketAddress v6c = new InetSocketAddress("::3", 1);
        InetSocketAddress v4a = new InetSocketAddress("127.0.0.1", 1);
        InetSocketAddress v4b = new InetSocketAddress("127.0.0.2", 1);
        assertThat(HappyEyeballs.interleaved(List.of(v6a, v6b, v6c, v4a))).containsExactly(v6a, v4a, v6b, v6c);
        assertThat(HappyEyeballs.interleaved(List.of(v4a, v4b, v6a, v6b))).containsExactly(v4a, v6a, v4b, v6b);
        assertThat(HappyEyeballs.interleaved(List.of(v4b, v6a, v6b, v4a))).containsExactly(v4b, v6a, v4a, v6b);
        assertThat(HappyEyeballs.interleaved(List.of(v6b, v6a))).containsExactly(v6b, v6a);
    }

    /**
     * The first address drops SYNs: the second is tried beside it after the attempt delay, not
     * after its share of the connect timeout (10 s of 20 here), and wins; the first's channel,
     * still connecting, is closed before the dial returns.
     */
    @Test
    void anAddressThatDropsSynsCostsTheAttemptDelayNotItsShare() throws Exception {
        InetSocketAddress good = listening("127.0.0.1");
        long start = System.nanoTime();
        SocketChannel ch = race(List.of(dropping, good), Duration.ofSeconds(20), 100 * MS, recording).connect();
        long took = System.nanoTime() - start;
        assertThat(ch.getRemoteAddress()).isEqualTo(good);
        assertThat(took).as("connected after the attempt delay (100 ms), not the share (10 s)")
                .isGreaterThanOrEqualTo(100 * MS).isLessThan(5_000 * MS);
        assertThat(opened).hasSize(2);
        onlyOpen(ch);
    }

    /** Without a connect timeout the tries are paced by the delay alone. */
    @Test
    void withoutAConnectTimeoutTheDelayAlonePacesTheTries() throws Exception {
        InetSocketAddress good = listening("127.0.0.1");
        long start = System.nanoTime();
        SocketChannel ch = race(List.of(dropping, good), Duration.ZERO, 50 * MS, recording).connect();
        assertThat(ch.getRemoteAddress()).isEqualTo(good);
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(50 * MS).isLessThan(5_000 * MS);
        onlyOpen(ch);
    }

    /** A try that fails (refused) starts the next at once, not after the delay (10 s here). */
    @Test
    void aTryThatFailsStartsTheNextAtOnce() throws Exception {
        InetSocketAddress good = listening("127.0.0.1");
        long start = System.nanoTime();
        SocketChannel ch = race(List.of(at("127.0.0.3"), good), Duration.ofSeconds(20), 10_000 * MS, recording).connect();
        assertThat(ch.getRemoteAddress()).isEqualTo(good);
        assertThat(System.nanoTime() - start).isLessThan(5_000 * MS);
        onlyOpen(ch);
    }

    /**
     * Two tries connect, the first held back until the second has: whichever reports first wins,
     * the other's channel is closed — by the dial if it reported before the race ended, by its
     * try if after.
     */
    @RepeatedTest(10)
    void theFirstToConnectWinsAndTheOtherIsClosed() throws Exception {
        InetSocketAddress first = listening("127.0.0.1");
        InetSocketAddress second = listening("127.0.0.3");
        CountDownLatch secondConnected = new CountDownLatch(1);
        HappyEyeballs.Connector connector = (remote, timeoutNanos) -> {
            if (remote.equals(first)) {
                boolean interrupted = false;
                while (true) {
                    try {
                        secondConnected.await();
                        break;
                    } catch (InterruptedException e) {
                        interrupted = true; // kept: the connect below then fails, closing its channel
                    }
                }
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
                return recording.connect(remote, timeoutNanos);
            }
            SocketChannel ch = recording.connect(remote, timeoutNanos);
            secondConnected.countDown();
            return ch;
        };
        SocketChannel ch = race(List.of(first, second), Duration.ofSeconds(20), 10 * MS, connector).connect();
        assertThat(ch.isConnected()).isTrue();
        onlyOpen(ch);
    }

    /**
     * Every try fails — one refused (first, so that it has the whole time to say so on a loaded
     * machine), one timed out at the deadline — within the connect timeout: the failure names each
     * address, in the order tried, with its own failure.
     */
    @Test
    void aDialThatFailsAtEachAddressNamesEachWithinTheConnectTimeout() throws Exception {
        InetSocketAddress refusing = at("127.0.0.3");
        long start = System.nanoTime();
        assertThatThrownBy(() -> race(List.of(refusing, dropping), Duration.ofMillis(500), 100 * MS, recording).connect())
                .isInstanceOf(ConnectException.class)
                .hasMessageStartingWith("connecting to h.stcp.test:" + port + ": failed at each of its 2 addresses: 127.0.0.3:"
                        + port + " (java.net.ConnectException")
                .hasMessageContaining("; 127.0.0.2:" + port + " (java.net.SocketTimeoutException")
                .cause().isInstanceOf(ConnectException.class);
        assertThat(System.nanoTime() - start).as("within the connect timeout").isGreaterThanOrEqualTo(450 * MS)
                .isLessThan(3_000 * MS);
        assertThat(opened).hasSize(2).noneMatch(SocketChannel::isOpen);
        assertThat(Threads.live()).isZero();

        opened.clear();
        assertThatThrownBy(() -> race(List.of(dropping, dropping), Duration.ofMillis(200), 50 * MS, recording).connect())
                .as("each timed out").isInstanceOf(SocketTimeoutException.class)
                .hasMessageContaining("2 addresses: 127.0.0.2:" + port + " (java.net.SocketTimeoutException")
                .hasMessageContaining("; 127.0.0.2:" + port + " (java.net.SocketTimeoutException");
        assertThat(opened).hasSize(2).noneMatch(SocketChannel::isOpen);
        assertThat(Threads.live()).isZero();
    }

    /**
     * The dialling thread interrupted (the client's close) while two tries wait for answers: the
     * dial ends at once, every channel closed and every try's thread ended.
     */
    @Test
    void anInterruptEndsTheDialClosingEveryTry() throws Exception {
        CountDownLatch bothStarted = new CountDownLatch(2);
        HappyEyeballs.Connector counting = (remote, timeoutNanos) -> {
            bothStarted.countDown();
            return recording.connect(remote, timeoutNanos);
        };
        CompletableFuture<Object> outcome = new CompletableFuture<>();
        Thread dialling = Thread.ofVirtual().start(() -> {
            try {
                outcome.complete(race(List.of(dropping, dropping), Duration.ofSeconds(20), 10 * MS, counting).connect());
            } catch (Throwable t) {
                outcome.complete(t);
            }
        });
        assertThat(bothStarted.await(10, TimeUnit.SECONDS)).isTrue();
        long start = System.nanoTime();
        dialling.interrupt();
        assertThat(outcome.get(10, TimeUnit.SECONDS)).isInstanceOf(InterruptedIOException.class);
        assertThat(System.nanoTime() - start).isLessThan(5_000 * MS);
        assertThat(opened).hasSize(2).noneMatch(SocketChannel::isOpen);
        assertThat(Threads.live()).isZero();
    }

    @Test
    void eachTryHasAnEqualShareOfTheTimeLeftAtMost() {
        assertThat(HappyEyeballs.shareOf(900, 3)).isEqualTo(300);
        assertThat(HappyEyeballs.shareOf(0, 2)).as("at least 1 ns").isEqualTo(1);
    }
}
