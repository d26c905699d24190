package io.stcp.internal;

import java.io.IOException;
import java.net.SocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Whether Linux hands the connections queued on a closing {@code SO_REUSEPORT} listener to another
 * listener of the port ({@code net.ipv4.tcp_migrate_req}, Linux 5.14+), and a WARN line
 * ({@code server.reuseport.migrate_off}) when it does not: then the connections that reached the
 * old server's queue but were not yet accepted when it stopped listening are reset, which a
 * restart without downtime must avoid. Other systems are not checked.
 */
final class MigrateCheck {
    static final Path SYSCTL = Path.of("/proc/sys/net/ipv4/tcp_migrate_req");

    private MigrateCheck() {}

    /**
     * Logs the WARN line, naming the listener's {@code bound} address (the port chosen for port 0),
     * if the setting, read from {@code sysctl}, is readable and off.
     */
    static void warnIfOff(SocketAddress bound, Path sysctl) {
        String value;
        try {
            value = Files.isReadable(sysctl) ? Files.readString(sysctl).trim() : null;
        } catch (IOException | RuntimeException e) {
            value = null;
        }
        if ("0".equals(value)) {
            Log.SERVER.atWarn().setMessage("server.reuseport.migrate_off").addKeyValue("address", HostPort.format(bound))
                    .addKeyValue("why", "with net.ipv4.tcp_migrate_req=0, connections queued but not yet accepted"
                            + " when this server stops listening are reset instead of passed to the next one on the port")
                    .addKeyValue("fix", "sysctl -w net.ipv4.tcp_migrate_req=1").log();
        }
    }
}
