package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.Echo;
import io.stcp.testing.ProxyHeaders;
import io.stcp.testing.TestClient;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** {@link TcpServer#stats()} after known traffic: live, ended and refused connections, bytes, messages, queues. */
class ServerStatsTest {

    @Test
    void theCountersAddUpToTheTrafficThatWasSent() throws Exception {
        ConnectionReader reader = (sender, conn) -> {
            int length = conn.readInt();
            if (length < 0) {
                throw new java.net.ProtocolException("negative length");
            }
            sender.put(Echo.frame(conn.readBytes(length)));
        };
        TcpServer server = TcpServer.create(Echo.loopback().maxConn(2).build(), reader,
                QueueSender.options().capacity(16)::build).start();
        try {
            try (TestClient a = TestClient.connect(server.address())) {
                for (int i = 0; i < 10; i++) {
                    assertThat(a.roundTrip(new byte[100])).hasSize(100);
                }
            }
            try (TestClient bad = TestClient.connect(server.address())) {
                bad.sendRaw(new byte[] {-1, -1, -1, -1});
                assertThat(bad.awaitClosedByServer()).isTrue();
            }
            Awaitility.await().until(() -> server.connectionCount() == 0);
            try (TestClient live = TestClient.connect(server.address());
                 TestClient second = TestClient.connect(server.address())) {
                assertThat(live.roundTrip(new byte[] {1})).hasSize(1);
                assertThat(second.roundTrip(new byte[] {2})).hasSize(1);
                try (TestClient refused = TestClient.connect(server.address())) {
                    assertThat(refused.awaitClosedByServer()).isTrue(); // maxConn 2
                }
                // A reply can reach the client before the reader call that sent it has returned,
                // and a call is counted when it returns; a message is counted as written after its write.
                Awaitility.await().until(() -> server.stats().messagesIn() >= 12 && server.stats().messagesOut() >= 12);
                ServerStats s = server.stats();
                assertThat(s.connections()).isEqualTo(2);
                assertThat(s.accepted()).isEqualTo(4);
                assertThat(s.rejected()).containsEntry("maxConn", 1L);
                assertThat(s.closed(CloseReason.PEER_CLOSED)).isEqualTo(1);
                assertThat(s.closed(CloseReason.PROTOCOL_ERROR)).isEqualTo(1);
                assertThat(s.messagesIn()).isEqualTo(12); // 10 + 1 + 1 reader calls that returned
                assertThat(s.messagesOut()).isEqualTo(12);
                assertThat(s.bytesIn()).isEqualTo(10 * 104 + 4 + 2 * 5);
                assertThat(s.bytesOut()).isEqualTo(10 * 104 + 2 * 5);
                assertThat(s.acceptErrors()).isZero();
            }
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * A load balancer's health checks (a PROXY header by which the proxy speaks for itself) are
     * counted in {@link TcpServer#healthCheckCount()} only: neither accepted nor, as they close,
     * connections that ended — they were counted as {@link CloseReason#CLOSED}, "closed by the
     * application", so HAProxy's checks every 2 s showed as a steady rate of application closes on
     * a server that served nobody.
     */
    @Test
    void aProxysHealthChecksAreNotCountedAsConnectionsThatEnded() throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().proxyProtocol(ProxyProtocol.required("127.0.0.1/32")).build(),
                Echo.READER, SenderFactory.queue(16)).start();
        try {
            for (int i = 0; i < 3; i++) {
                try (TestClient check = TestClient.connect(server.address())) { // v2 LOCAL
                    check.sendRaw(ProxyHeaders.v2Local().bytes());
                    assertThat(check.awaitClosedByServer()).isTrue();
                }
            }
            try (TestClient check = TestClient.connect(server.address())) { // v1 naming its own connection
                check.sendRaw(ProxyHeaders.v1(check.localAddress(), server.address()));
                assertThat(check.awaitClosedByServer()).isTrue();
            }
            try (TestClient client = TestClient.connect(server.address())) { // and a client, for contrast
                client.sendRaw(ProxyHeaders.concat(ProxyHeaders.v1(new InetSocketAddress("192.0.2.1", 5000),
                        server.address()), Echo.frame(new byte[] {1})));
                assertThat(client.readFrame()).containsExactly(1);
            }
            Awaitility.await().until(() -> server.healthCheckCount() == 4 && server.connectionCount() == 0);
            ServerStats s = server.stats();
            assertThat(s.accepted()).isEqualTo(1);
            assertThat(s.closed(CloseReason.PEER_CLOSED)).isEqualTo(1);
            assertThat(s.closed().values().stream().mapToLong(Long::longValue).sum())
                    .as("connections that ended, by reason: %s", s.closed()).isEqualTo(1);
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * A snapshot's maps keep one order, whatever the order given: {@code closed} in
     * {@link CloseReason}'s, {@code rejected} by name; so its toString is the same from run to run
     * (they were {@code Map.copyOf}s, whose order changes with each JVM).
     */
    @Test
    void theMapsOfASnapshotKeepOneOrder() {
        java.util.List<CloseReason> reasons = java.util.List.of(CloseReason.values());
        Map<CloseReason, Long> closed = new LinkedHashMap<>();
        for (CloseReason r : reasons.reversed()) {
            closed.put(r, (long) r.ordinal() + 1);
        }
        Map<String, Long> rejected = new LinkedHashMap<>();
        for (String r : new String[] {"rate", "maxConn", "ipLimit", "closing", "acceptHook"}) {
            rejected.put(r, 1L);
        }
        ServerStats s = new ServerStats(0, 0, rejected, closed, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        assertThat(s.closed().keySet()).containsExactlyElementsOf(reasons);
        assertThat(s.rejected().keySet()).containsExactly("acceptHook", "closing", "ipLimit", "maxConn", "rate");
        StringBuilder expected = new StringBuilder("closed={");
        for (CloseReason r : reasons) {
            expected.append(r == reasons.getFirst() ? "" : ", ").append(r).append('=').append(r.ordinal() + 1);
        }
        assertThat(s.toString()).contains(expected.append('}'));
        assertThat(s.closed(CloseReason.values()[0])).isEqualTo(1);
        assertThatThrownBy(() -> s.closed().put(CloseReason.values()[0], 5L)).isInstanceOf(UnsupportedOperationException.class);
        Map<CloseReason, Long> withNull = new HashMap<>();
        withNull.put(CloseReason.values()[0], null);
        assertThatThrownBy(() -> new ServerStats(0, 0, Map.of(), withNull, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
                .isInstanceOf(NullPointerException.class);
    }
}
