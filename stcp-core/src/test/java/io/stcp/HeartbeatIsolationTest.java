package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** One connection's broken or blocked sender must not stop the heartbeats of the others. */
class HeartbeatIsolationTest {
    private static final byte[] PING = Echo.frame(new byte[] {42});

    /** A QueueSender whose isClosed() throws, as a faulty custom sender might. */
    private static Sender throwingIsClosed(Connection conn) {
        QueueSender inner = QueueSender.create(conn, 16);
        return new Sender() {
            @Override public Connection connection() { return inner.connection(); }
            @Override public void put(byte[] bytes) { inner.put(bytes); }
            @Override public int close() { return inner.close(); }
            @Override public int closeAfterFlush(Duration timeout) { return inner.closeAfterFlush(timeout); }
            @Override public boolean isClosed() { throw new IllegalStateException("broken isClosed"); }
            @Override public void sendLoop() throws Exception { inner.sendLoop(); }
        };
    }

    @Test
    void aSenderWhoseIsClosedThrowsDoesNotStopOtherConnectionsHeartbeats() throws Exception {
        AtomicInteger made = new AtomicInteger();
        SenderFactory factory = conn -> made.getAndIncrement() == 0 ? throwingIsClosed(conn) : QueueSender.create(conn, 16);
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, factory)
                .onConnectionStart(Heartbeat.every(Duration.ofMillis(50), PING)).start();
        try (TestClient broken = TestClient.connect(server.address())) {
            assertThat(broken.readFrame()).containsExactly(42); // its first ping: the scanner has met it
            try (TestClient healthy = TestClient.connect(server.address())) {
                for (int i = 0; i < 5; i++) {
                    assertThat(healthy.readFrame()).as("ping %d", i).containsExactly(42);
                }
            }
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aBlockingPutOnOneConnectionDoesNotStallOtherConnectionsHeartbeats() throws Exception {
        java.util.concurrent.atomic.AtomicLong stuckId = new java.util.concurrent.atomic.AtomicLong(-1);
        // The first connection's queue blocks its producers for an hour when full; its client never reads.
        SenderFactory factory = conn -> {
            if (stuckId.compareAndSet(-1, conn.id())) {
                return QueueSender.options().capacity(1).overflow(OverflowPolicy.BLOCK)
                        .blockTimeout(Duration.ofHours(1)).build(conn);
            }
            return QueueSender.create(conn, 16);
        };
        ConnectionReader reader = (sender, conn) -> {
            if (conn.id() != stuckId.get()) {
                Echo.READER.read(sender, conn);
                return;
            }
            conn.readInt();
            for (int i = 0; i < 64; i++) {
                sender.put(new byte[1 << 20]); // blocks once the socket and the queue are full
            }
        };
        TcpServer server = TcpServer.create(Echo.loopback().writeTimeout(Duration.ZERO).build(), reader, factory)
                .onConnectionStart(Heartbeat.every(Duration.ofMillis(50), PING)).start();
        try (TestClient stuck = TestClient.connect(server.address())) {
            stuck.sendRaw(new byte[4]); // the reader fills the queue; nothing is ever read
            try (TestClient healthy = TestClient.connect(server.address())) {
                for (int i = 0; i < 5; i++) {
                    assertThat(healthy.readFrame()).as("ping %d", i).containsExactly(42);
                }
            }
        } finally {
            Echo.stop(server);
        }
    }
}
