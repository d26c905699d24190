package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.Echo;
import io.stcp.testing.ProxyHeaders;
import io.stcp.testing.TestClient;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
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
            assertThat(s.healthChecks()).as("in the snapshot too").isEqualTo(4);
            assertThat(s.accepted()).isEqualTo(1);
            assertThat(s.closed(CloseReason.PEER_CLOSED)).isEqualTo(1);
            assertThat(s.closed().values().stream().mapToLong(Long::longValue).sum())
                    .as("connections that ended, by reason: %s", s.closed()).isEqualTo(1);
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * Snapshots taken while connections end never go back: each connection is in a snapshot once,
     * live or ended. The totals of the connections that ended were read first and the live ones
     * walked after, so a connection that ended in between was in neither, and bytes, calls and
     * ends dipped (a false reset to Prometheus; the shutdown's false "unclean", below).
     */
    @Test
    void snapshotsTakenWhileConnectionsEndNeverGoBack() throws Exception {
        int stayers = 300; // live all along: each snapshot walks them, which makes the walks long
        int clients = 150;
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16)).start();
        List<TestClient> open = new ArrayList<>();
        List<TestClient> staying = new ArrayList<>();
        try {
            for (int i = 0; i < stayers; i++) {
                staying.add(TestClient.connect(server.address()));
            }
            for (int i = 0; i < clients; i++) {
                TestClient c = TestClient.connect(server.address());
                open.add(c);
                assertThat(c.roundTrip(new byte[100])).hasSize(100);
            }
            Awaitility.await().until(() -> server.stats().messagesIn() == clients);
            AtomicReference<String> wrong = new AtomicReference<>();
            AtomicBoolean done = new AtomicBoolean();
            Thread scraper = Thread.ofPlatform().start(() -> {
                ServerStats last = server.stats();
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (!done.get() && wrong.get() == null && System.nanoTime() < until) {
                    ServerStats s = server.stats();
                    long ended = ended(s);
                    if (s.bytesIn() < last.bytesIn() || s.bytesOut() < last.bytesOut()
                            || s.messagesIn() < last.messagesIn() || ended < ended(last) || ended > s.accepted()) {
                        wrong.set("after " + last + ":\n" + s);
                    }
                    last = s;
                }
            });
            for (TestClient c : open) {
                c.close(); // a burst of ends, while the scraper walks the live ones
            }
            Awaitility.await().until(() -> server.connectionCount() == stayers || wrong.get() != null);
            done.set(true);
            scraper.join();
            assertThat(wrong.get()).as("a snapshot below the one before it").isNull();
            ServerStats s = server.stats();
            assertThat(s.bytesIn()).isEqualTo(clients * 104L);
            assertThat(s.closed(CloseReason.PEER_CLOSED)).isEqualTo(clients);
        } finally {
            closeAll(open);
            closeAll(staying);
            Echo.stop(server);
        }
    }

    /**
     * A shutdown is clean although connections that discarded replies before it began exit while
     * it runs: their discards are not the shutdown's. Here their exit hooks wait until an idle
     * connection has exited, so the shutdown, which reached them first, waited for them: it took
     * what they had discarded before for its own, and said "unclean". (A connection that ended
     * during its first snapshot had the same effect; snapshotsTakenWhileConnectionsEndNeverGoBack
     * shows that.) A quitter's reply is discarded by its end, or written if the sender got to it
     * before the reader's throw (a send thread, or a drain the reader paid): each is one or the
     * other, and the shutdown adds no discard.
     */
    @Test
    void aShutdownIsCleanThoughConnectionsThatDiscardedBeforeItExitDuringIt() throws Exception {
        int idle = 40;
        int quitters = 40;
        CountDownLatch inExitHook = new CountDownLatch(quitters);
        CountDownLatch release = new CountDownLatch(1);
        ConnectionReader reader = (sender, conn) -> {
            conn.readInt();
            sender.put(new byte[] {1}); // the reader's reply, written when it next waits: never
            throw new java.net.SocketException("Connection reset"); // as if the peer reset: discarded (PEER_RESET)
        };
        TcpServer server = TcpServer.create(Echo.loopback().build(), reader, SenderFactory.queue(4))
                .onConnectionExit(s -> {
                    if (s.connection().closeReason() == CloseReason.SHUTDOWN) {
                        release.countDown(); // an idle one: the shutdown has reached them all
                    } else {
                        inExitHook.countDown();
                        release.await(10, TimeUnit.SECONDS);
                    }
                }).start();
        List<TestClient> open = new ArrayList<>();
        try {
            for (int i = 0; i < idle; i++) {
                open.add(TestClient.connect(server.address())); // their readers wait: shut down at once
            }
            for (int i = 0; i < quitters; i++) {
                TestClient c = TestClient.connect(server.address());
                open.add(c);
                c.sendRaw(new byte[4]);
            }
            assertThat(inExitHook.await(10, TimeUnit.SECONDS)).isTrue();
            Awaitility.await().until(() -> server.connectionCount() == idle + quitters);
            ServerStats before = server.stats(); // the quitters' senders have closed: their counts are final
            assertThat(before.discarded() + before.messagesOut()).as("each reply written or discarded: %s", before)
                    .isEqualTo(quitters);
            assertThat(before.discarded()).as("discarded before the shutdown").isPositive();
            assertThat(server.shutdown(Duration.ofSeconds(5))).as("clean").isTrue();
            ServerStats s = server.stats();
            assertThat(s.discarded()).as("none by the shutdown").isEqualTo(before.discarded());
            assertThat(s.closed(CloseReason.SHUTDOWN)).isEqualTo(idle);
            assertThat(s.closed(CloseReason.PEER_RESET)).isEqualTo(quitters);
        } finally {
            release.countDown();
            closeAll(open);
            Echo.stop(server);
        }
    }

    private static void closeAll(List<TestClient> clients) throws Exception {
        for (TestClient c : clients) {
            c.close();
        }
    }

    private static long ended(ServerStats s) {
        return s.closed().values().stream().mapToLong(Long::longValue).sum();
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
