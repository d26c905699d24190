package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ServerConfig;
import io.stcp.testing.LogCapture;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A listener with {@code reusePort} where {@code net.ipv4.tcp_migrate_req} is 0 warns
 * ({@code server.reuseport.migrate_off}) naming the address it is bound to, as {@code server.start}
 * does ({@link HostPort#format}): the port chosen for port 0, an IPv6 host in brackets. It named the address as configured
 * ({@code 127.0.0.1:0}). The setting is read from a file of the test's.
 */
class MigrateCheckTest {

    @Test
    void theWarningNamesTheAddressBound(@TempDir Path dir) throws Exception {
        Path off = Files.writeString(dir.resolve("tcp_migrate_req"), "0\n");
        try (LogCapture log = LogCapture.of("io.stcp.server")) {
            for (String address : new String[] {"127.0.0.1:0", "[::1]:0"}) {
                ServerListener listener = ServerListener.open(ServerConfig.builder().address(address).reusePort(true).build(), off);
                try {
                    int port = ((InetSocketAddress) listener.address()).getPort();
                    assertThat(port).isNotZero();
                    assertThat(log.events("server.reuseport.migrate_off")).last()
                            .extracting(e -> LogCapture.fields(e).get("address"))
                            .isEqualTo(HostPort.format(listener.address())).asString()
                            .endsWith(":" + port).startsWith(address.substring(0, 1));
                } finally {
                    listener.close();
                }
            }
            assertThat(log.events("server.reuseport.migrate_off")).hasSize(2);
        }
    }

    @Test
    void noWarningWhenTheSettingIsOnOrUnreadable(@TempDir Path dir) throws Exception {
        Path on = Files.writeString(dir.resolve("tcp_migrate_req"), "1\n");
        try (LogCapture log = LogCapture.of("io.stcp.server")) {
            for (Path sysctl : new Path[] {on, dir.resolve("absent")}) {
                ServerListener.open(ServerConfig.builder().address("127.0.0.1:0").reusePort(true).build(), sysctl).close();
            }
            assertThat(log.events("server.reuseport.migrate_off")).isEmpty();
        }
    }
}
