package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.LogCapture;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import redis.clients.jedis.exceptions.JedisConnectionException;

/**
 * {@link Watchdog}: a watch armed past its deadline has its socket closed then; one disarmed in
 * time never does; a disarm racing the deadline either wins (the socket stays open) or loses (false,
 * and the socket is closed), never both; close fires every watch, and none can be made after it.
 */
@ExtendWith(ClusterLeakCheck.class)
class WatchdogTest {
    private ServerSocket server;
    private final List<Socket> sockets = new ArrayList<>();
    private final Watchdog watchdog = new Watchdog("stcp-cluster-test-watchdog", "redis.test:6379", TimeUnit.MILLISECONDS.toNanos(50));

    @BeforeEach
    void listen() throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    }

    @AfterEach
    void closeAll() throws IOException {
        watchdog.close();
        for (Socket s : sockets) {
            s.close();
        }
        server.close();
    }

    /** A connected loopback socket (the peer's end kept, to be closed after the test). */
    private Socket connected() throws IOException {
        Socket s = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
        sockets.add(s);
        sockets.add(server.accept());
        return s;
    }

    @Test
    void aWatchStillArmedAtItsDeadlineClosesItsSocketThen() throws IOException {
        Watchdog.Watch w = watchdog.watch();
        Socket s = connected();
        w.socket(s);
        long start = System.nanoTime();
        w.arm(start + TimeUnit.MILLISECONDS.toNanos(200));
        Awaitility.await("the socket closed").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(1)).until(s::isClosed);
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).as("closed after (ms)").isGreaterThanOrEqualTo(200L);
        assertThat(w.fired()).isTrue();
        assertThat(w.disarm()).as("disarm after it fired").isFalse();
        assertThatThrownBy(() -> w.arm(System.nanoTime() + TimeUnit.SECONDS.toNanos(10))).isInstanceOf(JedisConnectionException.class);
    }

    @Test
    void aWatchDisarmedInTimeNeverCloses() throws IOException {
        Watchdog.Watch kept = watchdog.watch();
        Socket keptSocket = connected();
        kept.socket(keptSocket);
        kept.arm(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100));
        assertThat(kept.disarm()).isTrue();
        // A second watch with a later deadline: once it has fired, the watchdog has looked past the first's.
        Watchdog.Watch marker = watchdog.watch();
        Socket markerSocket = connected();
        marker.socket(markerSocket);
        marker.arm(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300));
        Awaitility.await("the marker closed").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(1)).until(markerSocket::isClosed);
        assertThat(keptSocket.isClosed()).as("the socket of the watch disarmed in time").isFalse();
        assertThat(kept.fired()).isFalse();
        kept.arm(System.nanoTime() + TimeUnit.SECONDS.toNanos(10)); // and it can be armed again
        assertThat(kept.disarm()).isTrue();
    }

    @RepeatedTest(20)
    void aDisarmRacingTheDeadlineEitherWinsOrFindsTheSocketClosed() throws IOException {
        Watchdog.Watch w = watchdog.watch();
        Socket s = connected();
        w.socket(s);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20);
        w.arm(deadline);
        Awaitility.await("the deadline").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(1))
                .until(() -> System.nanoTime() - deadline >= 0 || s.isClosed()); // then the disarm races the watchdog
        boolean disarmed = w.disarm();
        if (disarmed) {
            assertThat(w.fired()).isFalse();
            assertThat(s.isClosed()).as("the socket of a watch disarmed first").isFalse();
        } else {
            assertThat(w.fired()).isTrue();
            Awaitility.await("the socket closed").atMost(Duration.ofSeconds(20)).until(s::isClosed);
        }
    }

    @Test
    void closeFiresEveryWatchAndRefusesNewOnes() throws IOException {
        Watchdog.Watch armed = watchdog.watch();
        Socket armedSocket = connected();
        armed.socket(armedSocket);
        armed.arm(System.nanoTime() + TimeUnit.SECONDS.toNanos(60));
        Watchdog.Watch idle = watchdog.watch();
        Socket idleSocket = connected();
        idle.socket(idleSocket);

        watchdog.close();

        assertThat(armedSocket.isClosed()).isTrue();
        assertThat(idleSocket.isClosed()).isTrue();
        assertThat(armed.disarm()).isFalse();
        assertThatThrownBy(() -> idle.arm(System.nanoTime() + TimeUnit.SECONDS.toNanos(60))).isInstanceOf(JedisConnectionException.class);
        assertThatThrownBy(watchdog::watch).isInstanceOf(JedisConnectionException.class);
        Socket late = connected();
        armed.socket(late); // a socket handed to a fired watch is closed at once
        assertThat(late.isClosed()).isTrue();
    }

    /**
     * An {@link Error} closing one watch's socket (out of memory) does not stop close(): the other
     * watches are fired, and the failure is logged. It used to escape close() at that socket, and
     * RedisBus's close() with it: its threads were not joined nor its pool closed.
     */
    @Test
    void anErrorClosingOneSocketDoesNotStopCloseFiringTheOthers() throws IOException {
        AtomicBoolean thrown = new AtomicBoolean();
        Socket failing = new Socket() {
            @Override
            public synchronized void close() throws IOException {
                if (thrown.compareAndSet(false, true)) {
                    throw new NoClassDefFoundError("test: sun/nio/ch/NioSocketImpl");
                }
                super.close();
            }
        };
        try (LogCapture log = LogCapture.of(Watchdog.class.getName())) {
            Watchdog.Watch first = watchdog.watch();
            first.socket(failing);
            first.arm(System.nanoTime() + TimeUnit.SECONDS.toNanos(60));
            Watchdog.Watch second = watchdog.watch();
            Socket other = connected();
            second.socket(other);
            second.arm(System.nanoTime() + TimeUnit.SECONDS.toNanos(60));

            assertThatCode(watchdog::close).as("close() with one socket's close throwing").doesNotThrowAnyException();

            assertThat(thrown).as("the close threw").isTrue();
            assertThat(first.fired()).isTrue();
            assertThat(second.fired()).isTrue();
            assertThat(other.isClosed()).as("the other watch's socket").isTrue();
            assertThat(log.events("cluster.watchdog.close.error")).as("logged").hasSize(1);
        } finally {
            failing.close();
        }
    }

    /**
     * An {@link Error} in a scan (out of memory, say) does not end the watchdog's thread: it used to,
     * and no deadline was kept from then on (a call's write blocked on a Redis that reads nothing
     * waited for good). The next scan comes a tick later and fires a watch at its deadline. The
     * line names the Redis, as every cluster line names the node or the Redis (README).
     */
    @Test
    void anErrorInAScanDoesNotEndTheThreadAndLaterDeadlinesAreStillKept() throws IOException {
        AtomicInteger scans = new AtomicInteger();
        watchdog.beforeScan = () -> {
            if (scans.incrementAndGet() == 1) {
                throw new NoClassDefFoundError("test: redis/clients/jedis/exceptions/JedisConnectionException");
            }
        };
        Watchdog.Watch w;
        try (LogCapture log = LogCapture.of(Watchdog.class.getName())) {
            w = watchdog.watch(); // starts the thread, whose first scan throws
            Awaitility.await("the first scan's line").atMost(Duration.ofSeconds(20))
                    .until(() -> !log.events("cluster.watchdog.error").isEmpty());
            assertThat(LogCapture.fields(log.events("cluster.watchdog.error").get(0)))
                    .containsEntry("redis", "redis.test:6379").containsKey("thread");
        }
        Socket s = connected();
        w.socket(s);
        w.arm(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200));
        Awaitility.await("the socket closed at its deadline").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(5))
                .until(s::isClosed);
        assertThat(w.fired()).isTrue();
        assertThat(scans.get()).as("scans").isGreaterThan(1);
    }

    /**
     * An Error thrown by the line for a failed scan (out of memory making it, an Error from an
     * appender) does not end the thread either: it came from within the catch meant to keep the
     * thread going, and ended it; no deadline was kept from then on.
     */
    @Test
    void anErrorLoggingAFailedScanDoesNotEndTheThread() throws IOException {
        AtomicInteger scans = new AtomicInteger();
        watchdog.beforeScan = () -> {
            if (scans.incrementAndGet() == 1) {
                throw new NoClassDefFoundError("test: redis/clients/jedis/exceptions/JedisConnectionException");
            }
        };
        Watchdog.Watch w;
        try (FailingLog line = FailingLog.onFirst(Watchdog.class.getName(), "cluster.watchdog.error")) {
            w = watchdog.watch(); // starts the thread, whose first scan throws, and so does its line
            Awaitility.await("the first scan's line").atMost(Duration.ofSeconds(20)).until(line::hasThrown);
        }
        Socket s = connected();
        w.socket(s);
        w.arm(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200));
        Awaitility.await("the socket closed at its deadline").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(5))
                .until(s::isClosed);
        assertThat(w.fired()).isTrue();
    }
}
