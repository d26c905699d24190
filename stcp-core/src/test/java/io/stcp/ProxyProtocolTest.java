package io.stcp;

import static io.stcp.testing.ProxyHeaders.concat;
import static io.stcp.testing.ProxyHeaders.v1;
import static io.stcp.testing.ProxyHeaders.v2;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.ProxyHeaders;
import io.stcp.testing.TestClient;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** PROXY protocol v1 and v2 over real sockets: what the reader sees, and every way a header is refused. */
class ProxyProtocolTest {
    private static final InetSocketAddress CLIENT = new InetSocketAddress("192.0.2.7", 56324);
    private static final InetSocketAddress FRONTEND = new InetSocketAddress("198.51.100.1", 443);
    /** Longer than any test: a refusal that comes quickly did not wait for it. */
    private static final Duration LONG_TIMEOUT = Duration.ofSeconds(30);

    private final BlockingQueue<Connection> started = new LinkedBlockingQueue<>();
    private final AtomicInteger exits = new AtomicInteger();

    private TcpServer start(ProxyProtocol proxy) throws Exception {
        return start(Echo.loopback().proxyProtocol(proxy));
    }

    private TcpServer start(ServerConfig.Builder config) throws Exception {
        return TcpServer.create(config.build(), Echo.READER, SenderFactory.queue(16))
                .onConnectionStart(s -> started.add(s.connection()))
                .onConnectionExit(s -> exits.incrementAndGet()).start();
    }

    private static ProxyProtocol required() {
        return ProxyProtocol.required("127.0.0.1/32").withHeaderTimeout(LONG_TIMEOUT);
    }

    private static byte[] frame(String text) {
        return Echo.frame(text.getBytes(StandardCharsets.UTF_8));
    }

    /** Sends {@code bytes} and expects the server to close without a reply; returns how long that took. */
    private static Duration refused(TcpServer server, String from, byte[] bytes) throws Exception {
        try (TestClient c = TestClient.connectFrom(from, server.address())) {
            long t0 = System.nanoTime();
            c.sendRaw(bytes);
            assertThat(c.awaitClosedByServer()).as("closed by the server").isTrue();
            return Duration.ofNanos(System.nanoTime() - t0);
        }
    }

    @Test
    void aV1HeaderMakesTheClientTheRemoteAddressAndBytesAfterItReachTheReader() throws Exception {
        TcpServer server = start(required());
        try (TestClient c = TestClient.connect(server.address())) {
            c.sendRaw(concat(v1(CLIENT, FRONTEND), frame("hello"))); // one write: header and data in one packet
            assertThat(c.readFrame()).asString().isEqualTo("hello");
            Connection conn = started.poll(10, TimeUnit.SECONDS);
            assertThat(conn.remoteAddress()).isEqualTo(CLIENT);
            assertThat(conn.proxiedBy()).contains(c.localAddress());
            assertThat(conn.metaInfo().remoteAddress()).isEqualTo("192.0.2.7:56324");
            ProxyHeader h = conn.proxyHeader().orElseThrow();
            assertThat(h.version()).isEqualTo(1);
            assertThat(h.destination()).contains(FRONTEND);
            assertThat(server.acceptedCount()).isEqualTo(1);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aV2HeaderExposesItsTlvsAndAnIpv6Client() throws Exception {
        TcpServer server = start(required());
        InetSocketAddress client6 = new InetSocketAddress("2001:db8::7", 4242);
        byte[] header = v2(client6, new InetSocketAddress("2001:db8::1", 9000)).tlv(ProxyHeader.TYPE_ALPN, "h2")
                .tlv(ProxyHeader.TYPE_AUTHORITY, "api.example.com").tlv(ProxyHeader.TYPE_UNIQUE_ID, "req-1")
                .tlv(0xE1, "custom").crc(true).bytes();
        try (TestClient c = TestClient.connect(server.address())) {
            c.sendRaw(concat(header, frame("a"), frame("b")));
            assertThat(c.readFrame()).asString().isEqualTo("a");
            assertThat(c.readFrame()).asString().isEqualTo("b");
            Connection conn = started.poll(10, TimeUnit.SECONDS);
            assertThat(conn.remoteAddress()).isEqualTo(client6);
            assertThat(conn.metaInfo().remoteAddress()).isEqualTo("[2001:db8:0:0:0:0:0:7]:4242");
            ProxyHeader h = conn.proxyHeader().orElseThrow();
            assertThat(h.alpn()).contains("h2");
            assertThat(h.authority()).contains("api.example.com");
            assertThat(h.uniqueId()).hasValueSatisfying(id -> assertThat(id).asString().isEqualTo("req-1"));
            assertThat(h.tlv(0xE1).orElseThrow().text(StandardCharsets.UTF_8)).isEqualTo("custom");
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aHeaderArrivingAByteAtATimeIsReadWhole() throws Exception {
        TcpServer server = start(required());
        byte[] header = v2(CLIENT, FRONTEND).tlv(ProxyHeader.TYPE_AUTHORITY, "x".repeat(400)).bytes(); // > first buffer
        try (TestClient c = TestClient.connect(server.address())) {
            for (byte b : header) {
                c.sendRaw(new byte[] {b});
            }
            c.sendRaw(frame("whole"));
            assertThat(c.readFrame()).asString().isEqualTo("whole");
            assertThat(started.poll(10, TimeUnit.SECONDS).remoteAddress()).isEqualTo(CLIENT);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void healthChecksAreClosedAfterTheHeaderAndNotCountedAsClients() throws Exception {
        try (LogCapture log = LogCapture.of("io.stcp.connection")) {
            TcpServer server = start(required());
            try {
                // v2 LOCAL, with bytes after it that nobody reads
                refused(server, "127.0.0.1", concat(ProxyHeaders.v2Local().bytes(), frame("ignored")));
                // v2 LOCAL naming a family without its addresses: the family is ignored for LOCAL
                refused(server, "127.0.0.1", ProxyHeaders.v2Local().famProto(0x11).bytes());
                // v1 naming the connection's own source: HAProxy's v1 checks
                try (TestClient c = TestClient.connect(server.address())) {
                    c.sendRaw(v1(c.localAddress(), server.address()));
                    assertThat(c.awaitClosedByServer()).isTrue();
                }
                assertThat(server.healthCheckCount()).isEqualTo(3);
                // a client after them is counted as the first
                try (TestClient c = TestClient.connect(server.address())) {
                    c.sendRaw(concat(v1(CLIENT, FRONTEND), frame("x")));
                    assertThat(c.readFrame()).asString().isEqualTo("x");
                }
                assertThat(server.acceptedCount()).isEqualTo(1);
                assertThat(server.rejectedCount()).isZero();
                assertThat(started.poll(10, TimeUnit.SECONDS).remoteAddress()).isEqualTo(CLIENT);
                assertThat(started).as("no start hook ran for the health checks").isEmpty();
            } finally {
                Echo.stop(server);
            }
            assertThat(exits.get()).as("exit hooks: the client's only").isEqualTo(1);
            // A check every few seconds is not a client that left: no conn.exit (it had no conn.start),
            // least of all one that says CLOSED, the reason of a close by the application.
            assertThat(log.events("conn.exit")).as("conn.exit lines: the client's only").singleElement()
                    .satisfies(e -> assertThat(LogCapture.fields(e)).containsEntry("remoteAddr", "192.0.2.7:56324"));
        }
    }

    @Test
    void aHeaderWithoutAddressesKeepsTheProxysAddress() throws Exception {
        TcpServer server = start(required());
        try (TestClient c = TestClient.connect(server.address())) {
            c.sendRaw(concat(v1("PROXY UNKNOWN"), frame("u")));
            assertThat(c.readFrame()).asString().isEqualTo("u");
            Connection conn = started.poll(10, TimeUnit.SECONDS);
            assertThat(conn.remoteAddress()).isEqualTo(c.localAddress());
            assertThat(conn.proxiedBy()).contains(c.localAddress());
            assertThat(conn.proxyHeader().orElseThrow().source()).isEmpty();
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aPeerOutsideTheTrustedProxiesIsRefusedAtAcceptWithoutBeingRead() throws Exception {
        try (LogCapture log = LogCapture.of("io.stcp.server")) {
            TcpServer server = start(required());
            try {
                // It sends nothing: only a refusal at accept can close it before the header timeout.
                Duration took = refused(server, "127.0.0.2", new byte[0]);
                assertThat(took).isLessThan(LONG_TIMEOUT.dividedBy(3));
                assertThat(server.rejectedCount(RejectReason.PROXY_UNTRUSTED)).isEqualTo(1);
                assertThat(server.acceptedCount()).isZero();
                assertThat(started).isEmpty();
            } finally {
                Echo.stop(server);
            }
            List<ILoggingEvent> lines = log.events("server.reject");
            assertThat(lines).hasSize(1);
            assertThat(LogCapture.fields(lines.get(0))).containsEntry("reason", "proxyUntrusted");
            assertThat(String.valueOf(LogCapture.fields(lines.get(0)).get("remoteAddr"))).startsWith("127.0.0.2:");
        }
    }

    @Test
    void optionalModeServesDirectClientsAndBelievesOnlyTrustedHeaders() throws Exception {
        TcpServer server = start(ProxyProtocol.optional("127.0.0.1/32").withHeaderTimeout(LONG_TIMEOUT));
        try {
            try (TestClient direct = TestClient.connectFrom("127.0.0.1", server.address())) {
                assertThat(direct.roundTrip("d".getBytes(StandardCharsets.UTF_8))).asString().isEqualTo("d");
                Connection conn = started.poll(10, TimeUnit.SECONDS);
                assertThat(conn.remoteAddress()).isEqualTo(direct.localAddress());
                assertThat(conn.proxiedBy()).isEmpty();
            }
            try (TestClient proxied = TestClient.connectFrom("127.0.0.1", server.address())) {
                proxied.sendRaw(concat(v2(CLIENT, FRONTEND).bytes(), frame("p")));
                assertThat(proxied.readFrame()).asString().isEqualTo("p");
                assertThat(started.poll(10, TimeUnit.SECONDS).remoteAddress()).isEqualTo(CLIENT);
            }
            try (TestClient other = TestClient.connectFrom("127.0.0.3", server.address())) {
                assertThat(other.roundTrip("o".getBytes(StandardCharsets.UTF_8))).asString().isEqualTo("o");
                assertThat(started.poll(10, TimeUnit.SECONDS).remoteAddress()).isEqualTo(other.localAddress());
            }
            refused(server, "127.0.0.3", concat(v1(CLIENT, FRONTEND), frame("spoofed")));
            assertThat(server.rejectedCount(RejectReason.PROXY_UNTRUSTED)).isEqualTo(1);
            assertThat(server.acceptedCount()).isEqualTo(3);
            assertThat(started).isEmpty();
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void networksWrittenIpv4MappedCountTheirPrefixOver128Bits() throws Exception {
        // ::ffff:127.0.0.0/104 is 127.0.0.0/8 (peers connecting over IPv4 to a dual-stack socket are
        // IPv4 addresses), and ::ffff:127.0.0.3/128 is the single address
        TcpServer server = start(Echo.loopback()
                .proxyProtocol(ProxyProtocol.optional("::ffff:127.0.0.0/104").withHeaderTimeout(LONG_TIMEOUT))
                .ipLimits(IpLimits.builder().deny("::ffff:127.0.0.3/128").build()));
        try {
            try (TestClient proxy = TestClient.connectFrom("127.0.0.2", server.address())) {
                proxy.sendRaw(concat(v2(CLIENT, FRONTEND).bytes(), frame("p")));
                assertThat(proxy.readFrame()).asString().isEqualTo("p");
                assertThat(started.poll(10, TimeUnit.SECONDS).remoteAddress()).isEqualTo(CLIENT);
            }
            assertThat(refused(server, "127.0.0.3", frame("denied"))).isLessThan(LONG_TIMEOUT.dividedBy(3));
            assertThat(server.rejectedCount(RejectReason.DENIED)).isEqualTo(1);
            assertThat(server.acceptedCount()).isEqualTo(1);
        } finally {
            Echo.stop(server);
        }
        // below 96 bits the network holds IPv6 addresses too: refused, not read as an IPv4 prefix
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ProxyProtocol.required("::ffff:10.0.0.1/32"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("from 96 to 128");
    }

    @Test
    void aTrustedPeerWithoutAHeaderIsRefusedWhereOneIsRequired() throws Exception {
        TcpServer server = start(required());
        try {
            refused(server, "127.0.0.1", frame("no header"));
            assertThat(server.rejectedCount(RejectReason.PROXY_HEADER_MISSING)).isEqualTo(1);
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * Where a header is required, a trusted proxy that connects and closes before sending a byte
     * is checking that the port is open (a plain TCP check; a proxy relaying a client sends the
     * header as soon as it connects): a health check, not a refusal, which would log a WARN line
     * and count a rejection at the check's rate on a healthy server.
     */
    @Test
    void aTrustedProxyThatClosesBeforeItsFirstByteIsAHealthCheckWhereAHeaderIsRequired() throws Exception {
        TcpServer server = start(required());
        try {
            for (int i = 0; i < 3; i++) {
                try (TestClient c = TestClient.connect(server.address())) {
                    c.socket().shutdownOutput();
                    assertThat(c.awaitClosedByServer()).isTrue();
                }
            }
            Awaitility.await().until(() -> server.healthCheckCount() == 3);
            assertThat(server.rejectedCount()).isZero();
            assertThat(server.acceptedCount()).isZero();
            assertThat(server.stats().closed().values()).as("not counted as connections that ended").allMatch(n -> n == 0);
        } finally {
            Echo.stop(server);
        }
        assertThat(started).as("no start hook ran").isEmpty();
        assertThat(exits.get()).as("no exit hook ran").isZero();
    }

    /**
     * The same check closing with a reset, as HAProxy's layer-4 checks do: a health check too, not
     * a connection that ended ({@code PEER_RESET}, counted in {@code stats().closed} though never
     * accepted, at the check's rate).
     */
    @Test
    void aTrustedProxyThatResetsBeforeItsFirstByteIsAHealthCheckWhereAHeaderIsRequired() throws Exception {
        TcpServer server = start(required());
        try {
            for (int i = 0; i < 3; i++) {
                try (TestClient c = TestClient.connect(server.address())) {
                    Awaitility.await().until(() -> server.connectionCount() == 1); // its layer reads
                    c.socket().setSoLinger(true, 0); // close with RST
                }
                Awaitility.await().until(() -> server.connectionCount() == 0);
            }
            Awaitility.await().until(() -> server.healthCheckCount()
                    + server.stats().closed().values().stream().mapToLong(Long::longValue).sum() == 3);
            assertThat(server.stats().closed()).as("not counted as connections that ended")
                    .allSatisfy((reason, n) -> assertThat(n).as(reason.name()).isZero());
            assertThat(server.healthCheckCount()).isEqualTo(3);
            assertThat(server.rejectedCount()).isZero();
            assertThat(server.acceptedCount()).isZero();
        } finally {
            Echo.stop(server);
        }
        assertThat(started).as("no start hook ran").isEmpty();
        assertThat(exits.get()).as("no exit hook ran").isZero();
    }

    /**
     * Where a header is optional, a peer that resets before its first byte — a proxy or a direct
     * client — is a direct client that left, as one that closes so is: accepted, and ended as
     * {@code PEER_RESET}. It was counted ended but never accepted, so the ends outnumbered the
     * connections accepted. A connection broken inside a header is a truncated header, refused
     * (or, if the reset overtook the header's bytes, a health check), and never counted ended.
     */
    @Test
    void aPeerThatResetsBeforeOrInsideAHeaderIsCountedAcceptedIffItIsCountedEnded() throws Exception {
        TcpServer optional = start(ProxyProtocol.optional("127.0.0.1/32").withHeaderTimeout(LONG_TIMEOUT));
        try {
            for (String from : new String[] {"127.0.0.1", "127.0.0.2"}) { // a trusted proxy, an untrusted peer
                try (TestClient c = TestClient.connectFrom(from, optional.address())) {
                    Awaitility.await().until(() -> optional.connectionCount() == 1); // its layer reads
                    c.socket().setSoLinger(true, 0); // close with RST
                }
                Awaitility.await().until(() -> optional.connectionCount() == 0);
            }
            Awaitility.await().until(() -> ended(optional.stats()) == 2);
            assertThat(optional.stats().closed(CloseReason.PEER_RESET)).isEqualTo(2);
            assertThat(optional.acceptedCount()).isEqualTo(2);
            assertThat(optional.stats().accepted()).isEqualTo(2);
        } finally {
            Echo.stop(optional);
        }
        TcpServer required = start(required());
        try {
            try (TestClient c = TestClient.connect(required.address())) {
                c.sendRaw("PROXY TCP4 192.0".getBytes(StandardCharsets.US_ASCII));
                Awaitility.await().until(() -> required.connectionCount() == 1);
                c.socket().setSoLinger(true, 0);
            }
            Awaitility.await().until(() -> required.connectionCount() == 0
                    && required.rejectedCount(RejectReason.PROXY_HEADER_INVALID) + required.healthCheckCount() == 1);
            ServerStats s = required.stats();
            assertThat(ended(s)).as("ended: %s", s.closed()).isZero();
            assertThat(s.accepted()).isZero();
        } finally {
            Echo.stop(required);
        }
        assertThat(started).as("no start hook ran").isEmpty();
        assertThat(exits.get()).as("no exit hook ran").isZero();
    }

    private static long ended(ServerStats s) {
        return s.closed().values().stream().mapToLong(Long::longValue).sum();
    }

    @Test
    void aHeaderNotCompleteWithinTheHeaderTimeoutIsRefused() throws Exception {
        Duration timeout = Duration.ofMillis(300);
        TcpServer server = start(ProxyProtocol.required("127.0.0.1/32").withHeaderTimeout(timeout));
        try {
            Duration took = refused(server, "127.0.0.1", "PROXY TCP4 192.0".getBytes(StandardCharsets.US_ASCII));
            assertThat(took).isGreaterThanOrEqualTo(timeout.minusMillis(50)).isLessThan(Duration.ofSeconds(10));
            assertThat(server.rejectedCount(RejectReason.PROXY_HEADER_TIMEOUT)).isEqualTo(1);
            // silence counts too
            refused(server, "127.0.0.1", new byte[0]);
            assertThat(server.rejectedCount(RejectReason.PROXY_HEADER_TIMEOUT)).isEqualTo(2);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aV2HeaderAnnouncingMoreThanTheBoundIsRefusedBeforeItsBytesArrive() throws Exception {
        TcpServer server = start(required().withMaxHeaderLength(4096));
        try {
            byte[] fixedPart = java.util.Arrays.copyOf(v2(CLIENT, FRONTEND).length(60_000).bytes(), 16);
            Duration took = refused(server, "127.0.0.1", fixedPart); // nothing follows the 16 bytes
            assertThat(took).isLessThan(LONG_TIMEOUT.dividedBy(3));
            assertThat(server.rejectedCount(RejectReason.PROXY_HEADER_INVALID)).isEqualTo(1);
            // the largest header allowed passes
            byte[] big = v2(CLIENT, FRONTEND).tlv(0xE0, new byte[4096 - 16 - 12 - 3]).bytes();
            assertThat(big).hasSize(4096);
            try (TestClient c = TestClient.connect(server.address())) {
                c.sendRaw(concat(big, frame("ok")));
                assertThat(c.readFrame()).asString().isEqualTo("ok");
            }
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void malformedAndTruncatedHeadersAreRefusedAndCounted() throws Exception {
        List<byte[]> bad = List.of(
                v1("PROXY TCP4 192.0.2.7 198.51.100.1 56324"),
                v1("PROXY TCP4 host.example 198.51.100.1 56324 443"),
                v1("PROXY TCP4 192.0.2.7 198.51.100.1 99999 443"),
                "PROXY TCP4 192.0.2.7 198.51.100.1 1 2\n".getBytes(StandardCharsets.US_ASCII),
                ("PROXY UNKNOWN " + "x".repeat(200)).getBytes(StandardCharsets.US_ASCII),
                v2(CLIENT, FRONTEND).verCmd(0x31).bytes(),
                v2(CLIENT, FRONTEND).verCmd(0x2F).bytes(),
                v2(CLIENT, FRONTEND).famProto(0x12).bytes(),
                v2(CLIENT, FRONTEND).addresses(new byte[4]).bytes(),
                v2(CLIENT, FRONTEND).raw(new byte[] {0x02, 0x10, 0x00}).bytes(),
                v2(CLIENT, FRONTEND).crc(false).bytes(),
                v1("PROXY TCP4 010.0.0.1 198.51.100.1 56324 443"),      // a heading zero: octal to some, decimal to others
                v1("PROXY TCP4 192.0.2.7 198.51.100.1 056324 443"),
                v1("PROXY TCP6 ::ffff:010.0.0.1 2001:db8::1 56324 443"), // so in an IPv4 tail too
                v2Tlvs(ProxyProtocol.MAX_TLVS + 1));
        TcpServer server = start(required());
        try {
            for (byte[] b : bad) {
                refused(server, "127.0.0.1", concat(b, frame("after")));
            }
            assertThat(server.rejectedCount(RejectReason.PROXY_HEADER_INVALID)).isEqualTo(bad.size());
            // truncated by the end of the stream, in either version
            for (byte[] whole : List.of(v1(CLIENT, FRONTEND), v2(CLIENT, FRONTEND).bytes())) {
                try (TestClient c = TestClient.connect(server.address())) {
                    c.sendRaw(java.util.Arrays.copyOf(whole, whole.length - 3));
                    c.socket().shutdownOutput();
                    assertThat(c.awaitClosedByServer()).isTrue();
                }
            }
            Awaitility.await().until(() -> server.rejectedCount(RejectReason.PROXY_HEADER_INVALID) == bad.size() + 2);
            assertThat(server.acceptedCount()).isZero();
            assertThat(started).isEmpty();
        } finally {
            Echo.stop(server);
        }
    }

    /** A v2 header of {@code n} zero-length TLVs of a type of no meaning (0xE5, custom), after 16 bytes of NOOP padding. */
    private static byte[] v2Tlvs(int n) {
        ProxyHeaders.V2 h = v2(CLIENT, FRONTEND).tlv(ProxyHeader.TYPE_NOOP, new byte[16]);
        for (int i = 0; i < n; i++) {
            h.tlv(0xE5, new byte[0]);
        }
        return h.bytes();
    }

    @Test
    void aV2HeaderOfAsManyTlvsAsAllowedIsServedAndTheClientsAddressesWithoutHeadingZeroesAreRead() throws Exception {
        TcpServer server = start(required());
        try (TestClient c = TestClient.connect(server.address())) {
            c.sendRaw(concat(v2Tlvs(ProxyProtocol.MAX_TLVS), frame("many")));
            assertThat(c.readFrame()).asString().isEqualTo("many");
            ProxyHeader h = started.poll(10, TimeUnit.SECONDS).proxyHeader().orElseThrow();
            assertThat(h.tlvs()).hasSize(ProxyProtocol.MAX_TLVS);
        }
        try (TestClient c = TestClient.connect(server.address())) {
            c.sendRaw(concat(v1("PROXY TCP6 ::ffff:10.0.0.100 2001:db8::1 0 443"), frame("v1")));
            assertThat(c.readFrame()).asString().isEqualTo("v1");
            assertThat(started.poll(10, TimeUnit.SECONDS).remoteAddress()).isEqualTo(new InetSocketAddress("10.0.0.100", 0));
        } finally {
            Echo.stop(server);
        }
        assertThat(server.rejectedCount()).isZero();
    }

    @Test
    void perAddressLimitsApplyToTheClientTheHeaderNamesNotToTheProxy() throws Exception {
        TcpServer server = start(Echo.loopback().proxyProtocol(required())
                .ipLimits(IpLimits.builder().maxConnPerIp(1).deny("203.0.113.0/24").build()));
        InetSocketAddress other = new InetSocketAddress("192.0.2.8", 1000);
        try (TestClient first = TestClient.connect(server.address());
             TestClient second = TestClient.connect(server.address())) {
            first.sendRaw(concat(v1(CLIENT, FRONTEND), frame("1")));
            assertThat(first.readFrame()).asString().isEqualTo("1");
            second.sendRaw(concat(v1(other, FRONTEND), frame("2"))); // same proxy, another client: served
            assertThat(second.readFrame()).asString().isEqualTo("2");
            InetSocketAddress sameClientNewPort = new InetSocketAddress(CLIENT.getAddress(), CLIENT.getPort() + 1);
            refused(server, "127.0.0.1", concat(v1(sameClientNewPort, FRONTEND), frame("3")));
            assertThat(server.rejectedCount(RejectReason.MAX_CONN_PER_IP)).isEqualTo(1);
            refused(server, "127.0.0.1", concat(v1(new InetSocketAddress("203.0.113.9", 1), FRONTEND), frame("4")));
            assertThat(server.rejectedCount(RejectReason.DENIED)).isEqualTo(1);
            assertThat(server.acceptedCount()).isEqualTo(2);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aClientOfUnknownAddressIsRefusedWhereOnlyTheAllowListsNetworksAreServed() throws Exception {
        TcpServer server = start(Echo.loopback().proxyProtocol(required())
                .ipLimits(IpLimits.builder().allow("192.0.2.0/24").build()));
        try {
            try (TestClient allowed = TestClient.connect(server.address())) {
                allowed.sendRaw(concat(v1(CLIENT, FRONTEND), frame("in")));
                assertThat(allowed.readFrame()).asString().isEqualTo("in");
            }
            refused(server, "127.0.0.1", concat(v1("PROXY UNKNOWN"), frame("unknown")));
            refused(server, "127.0.0.1", concat(v2(CLIENT, FRONTEND).famProto(0x00).addresses(new byte[0]).bytes(),
                    frame("unspecified")));
            assertThat(server.rejectedCount(RejectReason.DENIED)).isEqualTo(2);
            assertThat(server.acceptedCount()).isEqualTo(1);
        } finally {
            Echo.stop(server);
        }
        // without an allow list such a client is served (and not counted against anyone's limits)
        TcpServer denyOnly = start(Echo.loopback().proxyProtocol(required())
                .ipLimits(IpLimits.builder().deny("192.0.2.0/24").maxConnPerIp(1).build()));
        try (TestClient c = TestClient.connect(denyOnly.address())) {
            c.sendRaw(concat(v1("PROXY UNKNOWN"), frame("u")));
            assertThat(c.readFrame()).asString().isEqualTo("u");
            assertThat(denyOnly.rejectedCount()).isZero();
        } finally {
            Echo.stop(denyOnly);
        }
    }

    /** server.start names the mode as a config names it ("mode": "required", --proxy-protocol required). */
    @Test
    void theServerStartLineNamesTheModeAsTheConfigDoes() throws Exception {
        try (LogCapture log = LogCapture.of("io.stcp.server")) {
            Echo.stop(start(required()));
            assertThat(log.events("server.start")).singleElement()
                    .satisfies(e -> assertThat(LogCapture.fields(e)).containsEntry("proxyProtocol", "required")
                            .containsEntry("reusePort", false));
        }
    }

    @Test
    void theClientsAddressIsOnEveryConnectionLogLine() throws Exception {
        try (LogCapture log = LogCapture.of("io.stcp.connection")) {
            TcpServer server = start(required());
            try (TestClient c = TestClient.connect(server.address())) {
                c.sendRaw(concat(v2(CLIENT, FRONTEND).bytes(), frame("x")));
                assertThat(c.readFrame()).hasSize(1);
            } finally {
                Echo.stop(server);
            }
            for (String event : List.of("conn.proxy", "conn.start", "conn.exit")) {
                assertThat(log.events(event)).as(event).hasSize(1);
                assertThat(LogCapture.fields(log.events(event).get(0))).as(event)
                        .containsEntry("remoteAddr", "192.0.2.7:56324");
            }
            assertThat(String.valueOf(LogCapture.fields(log.events("conn.proxy").get(0)).get("proxiedBy")))
                    .startsWith("127.0.0.1:");
        }
    }
}
