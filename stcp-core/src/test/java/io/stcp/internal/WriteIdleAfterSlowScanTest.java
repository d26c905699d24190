package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.CloseReason;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * A write-idle action that closes its connection ({@code Connection.onWriteIdle}, a write-idle
 * timeout) on a real socket, with a sweeper whose scan is slow: the scan reads its clock, then,
 * before it sweeps the connection's task, takes an interval (many connections, a sweeper held off
 * its CPU), during which the connection writes. The write is seen by that sweep, so the idle time
 * must count from there, not from the scan's clock, which was read an interval before the write:
 * counted from the scan's clock, the connection was closed a tick after its write.
 */
class WriteIdleAfterSlowScanTest {
    private static final long INTERVAL = TimeUnit.MILLISECONDS.toNanos(400);

    private final Sweeper sweeper = new Sweeper("test-write-idle-sweeper");

    @Test
    void aWriteDuringASlowScanIsNotTakenForOlderThanItIs() throws Exception {
        ConnectionContext context = new ConnectionContext(sweeper, null, Transports.sourceOrNull(), ExitLog.SHARED,
                TimeUnit.SECONDS.toNanos(5), 0, 0, 0, List.of());
        try (ServerSocketChannel listener = ServerSocketChannel.open()) {
            listener.bind(new InetSocketAddress("127.0.0.1", 0));
            try (SocketChannel peer = SocketChannel.open(listener.getLocalAddress())) {
                RealConnection conn = ConnectionOpener.open(listener.accept(), context);
                AtomicBoolean slowScanDone = new AtomicBoolean();
                AtomicLong writtenAt = new AtomicLong();
                sweeper.beforeScan = () -> { // on the sweeper's thread, after the scan read its clock
                    if (slowScanDone.compareAndSet(false, true)) {
                        long until = System.nanoTime() + INTERVAL; // the scan's clock is older still
                        while (System.nanoTime() - until < 0) {
                            LockSupport.parkNanos(until - System.nanoTime());
                        }
                        try {
                            conn.write(new byte[] {1}, 0, 1);
                        } catch (java.io.IOException e) {
                            throw new AssertionError(e);
                        }
                        writtenAt.set(System.nanoTime());
                    }
                };
                AtomicLong closedAt = new AtomicLong();
                CountDownLatch closed = new CountDownLatch(1);
                try {
                    conn.onWriteIdle(Duration.ofNanos(INTERVAL), () -> {
                        closedAt.compareAndSet(0, System.nanoTime());
                        conn.close(CloseReason.CLOSED); // an application's write-idle timeout
                        closed.countDown();
                    });

                    assertThat(closed.await(30, TimeUnit.SECONDS)).as("closed for write silence").isTrue();
                    assertThat(slowScanDone).isTrue();
                    assertThat(closedAt.get() - writtenAt.get()).as("nanoseconds from the write to the close")
                            .isGreaterThanOrEqualTo(INTERVAL);
                    ByteBuffer b = ByteBuffer.allocate(8);
                    assertThat(peer.read(b)).as("the byte written").isEqualTo(1);
                    assertThat(peer.read(b)).as("then the close").isEqualTo(-1);
                } finally {
                    conn.close(CloseReason.CLOSED);
                    sweeper.beforeScan = null;
                }
            }
        }
    }
}
