package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ServerConfigTest {

    @Test
    void defaultsAreThoseOfTheGoPackage() {
        ServerConfig c = ServerConfig.defaults();
        assertThat(c.acceptDelay()).isEqualTo(Duration.ofNanos(5_000));
        assertThat(c.acceptMaxDelay()).isEqualTo(Duration.ofMillis(50));
        assertThat(c.acceptMaxRetry()).isZero();
        assertThat(c.maxConn()).isEqualTo(65535);
        assertThat(c.writeTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(c.address()).isEqualTo(":0");
    }

    @Test
    void toBuilderRoundTrips() {
        ServerConfig c = ServerConfig.builder().address("127.0.0.1:9000").maxConn(10).acceptMaxRetry(3)
                .outboundBudget(1 << 20).build();
        assertThat(c.toBuilder().build()).isEqualTo(c);
    }

    /**
     * The budgets count bytes, and G1 stores an array of half a region or more in whole regions of
     * its own: a 1 MiB value (an array of 1 MiB and 16 bytes) fills two regions of 1 MiB. The old
     * defaults, a quarter and an eighth, at twice their bytes were three quarters of the heap, and
     * a hundred peers sending 1 MiB frames and never reading ran a -Xmx256m echo server out of heap
     * (and kept 399 of a -Xmx512m one's 512 regions live). The defaults at twice their bytes stay
     * within three eighths of it.
     */
    @Test
    void defaultBudgetsAtTwiceTheirBytesLeaveMostOfTheHeap() {
        ServerConfig c = ServerConfig.defaults();
        long heap = Runtime.getRuntime().maxMemory();
        assertThat(2 * (c.effectiveInboundBudget() + c.effectiveOutboundBudget())).isLessThanOrEqualTo(heap / 8 * 3);
    }

    @Test
    void maxConnZeroMeansNoLimit() {
        assertThat(ServerConfig.builder().maxConn(0).build().effectiveMaxConn()).isEqualTo(Integer.MAX_VALUE);
    }

    @Test
    void badValuesNameTheFieldAndTheValue() {
        assertThatThrownBy(() -> ServerConfig.builder().maxConn(-1).build())
                .hasMessage("maxConn: -1 (expected: >= 0)");
        assertThatThrownBy(() -> ServerConfig.builder().outboundBudget(-1).build())
                .hasMessage("outboundBudget: -1 (expected: >= 0, 0 = a sixteenth of the maximum heap)");
        assertThatThrownBy(() -> ServerConfig.builder().acceptMaxRetry(-2).build())
                .hasMessage("acceptMaxRetry: -2 (expected: >= 0)");
        assertThatThrownBy(() -> ServerConfig.builder().acceptDelay(Duration.ZERO).build())
                .hasMessage("acceptDelay: 0s (expected: > 0)");
        assertThatThrownBy(() -> ServerConfig.builder().acceptDelay(Duration.ofMillis(100)).build())
                .hasMessage("acceptMaxDelay: 50ms (expected: >= acceptDelay 100ms)");
    }

    /**
     * A setting that refines something switched off was accepted and never used: trusted proxies
     * with the PROXY protocol off (the operator believes in a header that is never read), a burst
     * without a rate, a table size without a limit that tracks addresses, a socket file's
     * permissions with a TCP address.
     */
    @Test
    void aSettingOfSomethingSwitchedOffIsRefusedNotIgnored() {
        assertThatThrownBy(() -> new ProxyProtocol(ProxyProtocol.Mode.OFF, java.util.List.of("10.0.0.0/8"),
                        ProxyProtocol.DEFAULT_HEADER_TIMEOUT, ProxyProtocol.DEFAULT_MAX_HEADER_LENGTH))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("trustedProxies: [10.0.0.0/8] while the mode is OFF (expected: none; no header is read, so"
                        + " nobody is trusted to send one: set the mode to REQUIRED or OPTIONAL)");
        assertThatThrownBy(() -> ProxyProtocol.off().withHeaderTimeout(Duration.ofSeconds(1)))
                .hasMessage("headerTimeout: 1s while the mode is OFF (expected: the default 5s; no header is read)");
        assertThatThrownBy(() -> ProxyProtocol.off().withMaxHeaderLength(1024))
                .hasMessage("maxHeaderLength: 1024 while the mode is OFF (expected: the default 4096; no header is read)");
        assertThatThrownBy(() -> IpLimits.builder().burstPerIp(10).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("burstPerIp: 10 without connectionsPerSecondPerIp (expected: 0 while there is no rate:"
                        + " a burst is the size of the rate's bucket)");
        assertThatThrownBy(() -> IpLimits.builder().maxConnPerIp(3).burstPerIp(10).build())
                .hasMessageStartingWith("burstPerIp: 10 without connectionsPerSecondPerIp");
        assertThatThrownBy(() -> ServerConfig.builder().address(":9000").unixSocketPermissions("rw-rw----").build())
                .hasMessage("unixSocketPermissions: \"rw-rw----\" with the address \":9000\" (expected: \"\"; they are a"
                        + " Unix socket file's, for a \"unix:PATH\" address)");
        assertThat(ServerConfig.builder().address("unix:/run/echo.sock").unixSocketPermissions("rw-rw----").build()
                .unixSocketPermissions()).isEqualTo("rw-rw----");
        assertThatThrownBy(() -> IpLimits.builder().maxTrackedIps(100).deny("192.0.2.0/24").build())
                .hasMessage("maxTrackedIps: 100 without maxConnPerIp or connectionsPerSecondPerIp (expected: the"
                        + " default 65536 while neither is set: only they track addresses)");

        assertThat(ProxyProtocol.off().withHeaderTimeout(Duration.ofSeconds(5))).as("the default is no setting")
                .isEqualTo(ProxyProtocol.off());
        assertThat(ProxyProtocol.required("10.0.0.0/8").withHeaderTimeout(Duration.ofSeconds(1)).headerTimeout())
                .isEqualTo(Duration.ofSeconds(1));
        assertThat(IpLimits.builder().connectionsPerSecondPerIp(0.5).burstPerIp(10).build().effectiveBurstPerIp())
                .isEqualTo(10);
        assertThat(IpLimits.builder().maxConnPerIp(3).maxTrackedIps(100).build().maxTrackedIps()).isEqualTo(100);
        assertThat(IpLimits.builder().connectionsPerSecondPerIp(1).maxTrackedIps(100).build().maxTrackedIps()).isEqualTo(100);
    }

    @ParameterizedTest
    @ValueSource(strings = {"9000", "host:port", "::1:9000", "127.0.0.1:70000", "127.0.0.1:-1"})
    void malformedAddressesAreRejected(String address) {
        assertThatThrownBy(() -> ServerConfig.builder().address(address).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("address: \"" + address + "\"");
    }

    @ParameterizedTest
    @ValueSource(strings = {"tcp://127.0.0.1:9000", "tcp://:9000"})
    void aUrlIsToldToLeaveOutItsScheme(String address) {
        assertThatThrownBy(() -> ServerConfig.builder().address(address).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("address: \"" + address + "\" (a URL, not an address: leave out the scheme;"
                        + " expected: \":9000\", \"127.0.0.1:9000\" or \"[::1]:9000\")");
        assertThatThrownBy(() -> ClientConfig.builder(address).build()) // the client parses addresses alike
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("leave out the scheme");
    }

    /**
     * An IPv6 host in its brackets without the port is told that the port is missing, not that
     * the host needs brackets (which it has): the port was looked for after the last colon, inside them.
     */
    @ParameterizedTest
    @ValueSource(strings = {"[::1]", "[fe80::1%eth0]", "[::1]9000"})
    void aBracketedHostWithoutItsPortIsToldThePortIsMissing(String address) {
        assertThatThrownBy(() -> ServerConfig.builder().address(address).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("address: \"" + address + "\" (missing ':port' after ']';"
                        + " expected: \":9000\", \"127.0.0.1:9000\" or \"[::1]:9000\")");
        assertThatThrownBy(() -> ClientConfig.builder(address).build()) // the client parses addresses alike
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("missing ':port' after ']'");
        assertThatThrownBy(() -> ServerConfig.builder().address("[::1:9000").build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'[' without ']'");
    }

    @ParameterizedTest
    @ValueSource(strings = {":9000", "127.0.0.1:9000", "[::1]:0", "localhost:0"})
    void goStyleAddressesAreAccepted(String address) {
        assertThat(ServerConfig.builder().address(address).build().address()).isEqualTo(address);
    }

    @Test
    void theEmptyAddressOfGoListensOnAllInterfacesOnAFreePort() throws Exception {
        ServerConfig c = ServerConfig.builder().address("").build();
        assertThat(c.address()).isEmpty();
        TcpServer server = TcpServer.create(c, Echo.READER, SenderFactory.queue(8)).start();
        try (TestClient client = TestClient.connect(server.address())) {
            assertThat(server.address().getAddress().isAnyLocalAddress()).isTrue();
            assertThat(server.address().getPort()).isPositive();
            assertThat(client.roundTrip(new byte[] {7})).containsExactly(7);
        } finally {
            Echo.stop(server);
        }
    }
}
