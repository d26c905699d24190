package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.stcp.framing.DelimiterReader;
import io.stcp.framing.LengthFieldReader;
import io.stcp.testing.NullSettings;
import java.time.Duration;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;

/**
 * Every public builder refuses a null setting at the setter, by the setting's name: some took it
 * and failed at build() (by name), some at once with a bare NullPointerException
 * ({@code blockTimeout(null)}, {@code Heartbeat.every(null, ping)}, {@code delimiter(null)}).
 */
class NullSettingsTest {
    @Test
    void eachBuilderRefusesANullSettingByItsName() throws Exception {
        assertThat(NullSettings.assertEachRefusedByName(ServerConfig.builder()))
                .contains("address", "acceptDelay", "frameTimeout", "proxyProtocol", "ipLimits", "unixSocketPermissions");
        assertThat(NullSettings.assertEachRefusedByName(ClientConfig.builder("127.0.0.1:1")))
                .contains("address", "connectTimeout", "reconnectDelay", "reconnectMaxDelay");
        assertThat(NullSettings.assertEachRefusedByName(IpLimits.builder())).contains("allow", "deny");
        assertThat(NullSettings.assertEachRefusedByName(QueueSender.options())).contains("overflow", "blockTimeout");
        assertThat(NullSettings.assertEachRefusedByName(DelimiterReader.builder())).contains("delimiter");
        assertThat(NullSettings.assertEachRefusedByName(LengthFieldReader.builder())).contains("byteOrder");
        assertThat(NullSettings.assertEachRefusedByName(TlsConfig.builder()))
                .contains("sslContext", "trustPem", "protocols", "cipherSuites", "applicationProtocols", "watch");
        assertThat(NullSettings.assertEachRefusedByName(TlsConfig.clientBuilder())).contains("serverName");
    }

    @Test
    void theSettingsAFactoryTakesAreRefusedByNameToo() {
        assertThatThrownBy(() -> ClientConfig.builder(null)).isInstanceOf(NullPointerException.class).hasMessage("address");
        assertThatThrownBy(() -> Heartbeat.every(null, new byte[] {1})).isInstanceOf(NullPointerException.class)
                .hasMessage("interval");
        assertThatThrownBy(() -> Heartbeat.every(Duration.ofSeconds(1), null)).isInstanceOf(NullPointerException.class)
                .hasMessage("ping");
    }

    /**
     * runUntilSignal(null) started the server and waited for a signal, and only then failed, on the
     * signal handler's thread; the other calls failed at once, but naming a variable of their
     * implementation ("timeout" for a grace, "d").
     */
    @Test
    void theLifecycleCallsRefuseANullDurationAtOnceByItsName() throws Exception {
        ConnectionReader reader = (sender, conn) -> conn.readBytes(1);
        try (TcpServer server = TcpServer.create(ServerConfig.builder().address("127.0.0.1:0").build(), reader,
                SenderFactory.queue(1))) {
            assertRefusedAtOnce(() -> server.runUntilSignal(null), "grace");
            assertRefusedAtOnce(() -> server.runUntilSignal(null, Duration.ofSeconds(1)), "drain");
            assertRefusedAtOnce(() -> server.runUntilSignal(Duration.ofSeconds(1), null), "grace");
            assertThatThrownBy(server::address).as("not started by a refused call")
                    .isInstanceOf(IllegalStateException.class);
            server.start();
            assertRefusedAtOnce(() -> server.shutdown(null), "grace");
            assertRefusedAtOnce(() -> server.drain(null), "timeout");
            assertRefusedAtOnce(() -> server.awaitTermination(null), "timeout");
        }
        TcpClient client = TcpClient.create(ClientConfig.builder("127.0.0.1:1").build(), reader,
                SenderFactory.queue(1));
        assertRefusedAtOnce(() -> client.runUntilSignal(null), "grace");
        assertThatThrownBy(() -> client.put(new byte[1])).as("not started by a refused call")
                .isInstanceOf(NotConnectedException.class).hasMessageContaining("not started");
        assertRefusedAtOnce(() -> client.shutdown(null), "grace");
        assertRefusedAtOnce(() -> client.awaitConnected(null), "timeout");
        assertRefusedAtOnce(() -> client.awaitTermination(null), "timeout");
        client.close();
    }

    private static void assertRefusedAtOnce(ThrowingCallable call, String name) {
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> assertThatThrownBy(call)
                .isInstanceOf(NullPointerException.class).hasMessage(name));
    }
}
