package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.framing.DelimiterReader;
import io.stcp.framing.LengthFieldReader;
import io.stcp.testing.NullSettings;
import java.time.Duration;
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
}
