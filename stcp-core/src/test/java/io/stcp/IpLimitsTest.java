package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestClient;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Per-address limits at accept, with clients from several loopback addresses (Linux routes all of 127/8 to lo). */
class IpLimitsTest {

    private static TcpServer start(IpLimits limits) throws Exception {
        return TcpServer.create(Echo.loopback().ipLimits(limits).build(), Echo.READER, SenderFactory.queue(16)).start();
    }

    private static boolean served(TestClient c) {
        try {
            return c.roundTrip(new byte[] {7})[0] == 7;
        } catch (java.io.IOException closed) {
            return false;
        }
    }

    @Test
    void maxConnPerIpCountsEachAddressApartAndFreesWithTheConnection() throws Exception {
        TcpServer server = start(IpLimits.builder().maxConnPerIp(2).build());
        try (TestClient a1 = TestClient.connectFrom("127.0.0.2", server.address());
             TestClient a2 = TestClient.connectFrom("127.0.0.2", server.address())) {
            assertThat(served(a1)).isTrue();
            assertThat(served(a2)).isTrue();
            try (TestClient a3 = TestClient.connectFrom("127.0.0.2", server.address())) {
                assertThat(a3.awaitClosedByServer()).isTrue();
            }
            try (TestClient b = TestClient.connectFrom("127.0.0.3", server.address())) {
                assertThat(served(b)).as("another address").isTrue();
            }
            a1.close();
            org.awaitility.Awaitility.await().until(() -> server.connectionCount() == 1);
            try (TestClient a4 = TestClient.connectFrom("127.0.0.2", server.address())) {
                assertThat(served(a4)).as("a place was freed").isTrue();
            }
            assertThat(server.rejectedCount(RejectReason.MAX_CONN_PER_IP)).isEqualTo(1);
            assertThat(server.rejectedCount()).isEqualTo(1);
            assertThat(server.stats().rejected()).as("the stats, by the same key as the log").containsEntry("maxConnPerIp", 1L);
            assertThat(server.acceptedCount()).isEqualTo(4);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void theRatePerIpRefusesConnectionsBeyondTheBurst() throws Exception {
        TcpServer server = start(IpLimits.builder().connectionsPerSecondPerIp(0.01).burstPerIp(2).build()); // one per 100 s
        try {
            for (int i = 0; i < 2; i++) {
                try (TestClient c = TestClient.connectFrom("127.0.0.4", server.address())) {
                    assertThat(served(c)).isTrue();
                }
            }
            try (TestClient c = TestClient.connectFrom("127.0.0.4", server.address())) {
                assertThat(c.awaitClosedByServer()).isTrue();
            }
            try (TestClient c = TestClient.connectFrom("127.0.0.5", server.address())) {
                assertThat(served(c)).isTrue();
            }
            assertThat(server.rejectedCount(RejectReason.RATE_PER_IP)).isEqualTo(1);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void allowAndDenyListsAndOneRejectLinePerReason() throws Exception {
        try (LogCapture log = LogCapture.of("io.stcp.server")) {
            TcpServer server = start(IpLimits.builder().allow("127.0.0.0/29").deny("127.0.0.6/32").maxConnPerIp(1).build());
            try {
                for (String from : List.of("127.0.0.6", "127.0.0.6", "127.0.0.9")) {
                    try (TestClient c = TestClient.connectFrom(from, server.address())) {
                        assertThat(c.awaitClosedByServer()).as(from).isTrue();
                    }
                }
                try (TestClient ok = TestClient.connectFrom("127.0.0.7", server.address())) {
                    assertThat(served(ok)).isTrue();
                    for (int i = 0; i < 3; i++) {
                        try (TestClient c = TestClient.connectFrom("127.0.0.7", server.address())) {
                            assertThat(c.awaitClosedByServer()).isTrue();
                        }
                    }
                }
                assertThat(server.rejectedCount(RejectReason.DENIED)).isEqualTo(3);
                assertThat(server.rejectedCount(RejectReason.MAX_CONN_PER_IP)).isEqualTo(3);
            } finally {
                Echo.stop(server);
            }
            List<ILoggingEvent> lines = log.events("server.reject");
            Map<Object, Long> perReason = lines.stream().collect(Collectors.groupingBy(
                    e -> LogCapture.fields(e).get("reason"), Collectors.counting()));
            assertThat(perReason).as("one line per reason within the interval")
                    .containsExactlyInAnyOrderEntriesOf(Map.of("denied", 1L, "maxConnPerIp", 1L));
            assertThat(String.valueOf(LogCapture.fields(lines.get(0)).get("remoteAddr"))).startsWith("127.0.0.");
        }
    }
}
