package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.CloseReason;
import io.stcp.ConnectionReader;
import io.stcp.ReadTimeoutException;
import io.stcp.SenderFactory;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * A peer that sends a layer's preface (a PROXY header, a TLS handshake) and then nothing, under a
 * first-frame timeout and a read timeout as long. The first frame's deadline counts from the
 * accept, the read timeout from the wait, so a read would throw the first frame's
 * ({@link io.stcp.FrameTimeoutException}, which ends the connection even if caught) and the
 * connection ends with {@link CloseReason#FRAME_TIMEOUT}, though its reader catches read timeouts
 * and returns.
 *
 * <p>On epoll the reader waits for that first frame suspended, watched by the sweeper twice: the
 * first frame's deadline ({@link SuspensionDeadline}) and the read timeout ({@link ReadIdleWatch}).
 * The sweeper is held here so that both are due at the same sweep, which runs them in the order of
 * its set: for about half of the connections the read timeout's watch ends the suspension first.
 * The read must still throw the deadline that passed, not the read timeout — whose catch would end
 * the first call, and with it the first-frame timeout: the connection would stay open for good.
 */
class FirstFrameAndReadTimeoutTest {
    private static final int CONNECTIONS = 16;
    private static final Duration TIMEOUT = Duration.ofSeconds(2);

    private final Sweeper sweeper = new Sweeper("test-first-frame-sweeper");
    private final AtomicInteger scans = new AtomicInteger();
    private volatile long holdUntil; // the next scan waits until then (nanoTime), 0: none

    /** Reads the peer's one-byte preface, as a PROXY-protocol layer reads its header: the socket is then drained. */
    private static final TransportLayer PREFACE = (under, connection, deadline) -> {
        byte[] b = new byte[16];
        if (under.read(b, 0, b.length, deadline) != 1) {
            throw new IOException("expected a one-byte preface");
        }
        return under;
    };

    @Test
    void aPeerSilentAfterItsPrefaceEndsAtTheFirstFrameTimeoutThoughItsReaderCatchesReadTimeouts() throws Exception {
        sweeper.beforeScan = () -> {
            scans.incrementAndGet();
            long until = holdUntil;
            if (until != 0) {
                holdUntil = 0;
                while (System.nanoTime() - until < 0) {
                    LockSupport.parkNanos(until - System.nanoTime());
                }
            }
        };
        long timeout = TIMEOUT.toNanos();
        ConnectionContext context = new ConnectionContext(sweeper, null, Transports.sourceOrNull(), ExitLog.SHARED,
                TimeUnit.SECONDS.toNanos(5), timeout, timeout, TimeUnit.SECONDS.toNanos(30), List.of(PREFACE));
        ConnectionReader reader = (sender, conn) -> {
            try {
                sender.put(conn.readBytes(conn.readInt()));
            } catch (ReadTimeoutException e) {
                // a reader that pings on a read timeout, say: called again
            }
        };
        List<SocketChannel> peers = new ArrayList<>();
        List<RealConnection> connections = new ArrayList<>();
        List<RealConnectionRunner> runners = new ArrayList<>();
        try (ServerSocketChannel listener = ServerSocketChannel.open()) {
            listener.bind(new InetSocketAddress("127.0.0.1", 0));
            long first = System.nanoTime(); // before every first-frame deadline began
            long opened = 0;
            for (int i = 0; i < CONNECTIONS; i++) {
                peers.add(SocketChannel.open(listener.getLocalAddress()));
                RealConnection c = ConnectionOpener.open(listener.accept(), context);
                opened = System.nanoTime(); // after every first-frame deadline began
                connections.add(c);
                RealConnectionRunner runner = RealConnectionRunner.of(c, reader, SenderFactory.queue(8), () -> {});
                runners.add(runner);
                runner.start();
            }
            for (SocketChannel peer : peers) {
                // Sent once the socket is watched, so that its edge is seen before the layer's read
                // (mostly: a loop that finds an edge left over waits in a read instead, and so
                // throws the first frame's deadline whatever the sweeper does).
                peer.write(ByteBuffer.wrap(new byte[] {'P'}));
            }
            if (connections.get(0).canSuspendReads()) {
                Awaitility.await().atMost(Duration.ofSeconds(10))
                        .until(() -> connections.stream().allMatch(c -> c.input().isAwaitingInput()));
                // Its thread ends a moment after it stops being the reader: two whole sweeps later
                // every read-timeout watch has seen its suspension armed.
                int seen = scans.get() + 3;
                Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(1))
                        .until(() -> scans.get() >= seen);
                long seenAt = System.nanoTime();
                // The next sweep waits until both timeouts have passed for every connection (and
                // sweeps with its clock read from before, within a tick, an eighth of the timeout:
                // nothing has passed then), the one after runs both. A machine so slow that the
                // first deadline is near already is left to the sweeper's own order.
                if (seenAt - first < timeout * 3 / 4) {
                    holdUntil = Math.max(opened, seenAt) + timeout + TimeUnit.MILLISECONDS.toNanos(20);
                }
            }
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            for (RealConnectionRunner runner : runners) {
                runner.awaitExit(Duration.ofNanos(Math.max(0, end - System.nanoTime())));
            }
            assertThat(runners.stream().filter(r -> !r.isExited()).count())
                    .as("connections still open: a read timeout ended their first call").isZero();
            for (RealConnection c : connections) {
                assertThat(c.closeReason()).isEqualTo(CloseReason.FRAME_TIMEOUT);
            }
        } finally {
            for (RealConnection c : connections) {
                c.close();
            }
            for (RealConnectionRunner runner : runners) {
                runner.awaitExit(Duration.ofSeconds(10));
            }
            for (SocketChannel peer : peers) {
                peer.close();
            }
            sweeper.beforeScan = null;
        }
    }
}
