package io.stcp.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.Durations;
import io.stcp.ServerConfig;
import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The echo command as a user runs it (a child JVM, real frames, SIGTERM) and the config it builds. */
class EchoCommandTest {
    private static final Pattern LISTENING = Pattern.compile("echo.listening address=\"?/?127\\.0\\.0\\.1:(\\d+)");

    /** The echo command in a child JVM listening on {@code address}, its output and errors in one stream. */
    private static Process startEcho(String address) throws java.io.IOException {
        String java = ProcessHandle.current().info().command().orElseThrow();
        return new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
                "io.stcp.examples.Main", "echo", "--addr", address))
                .redirectErrorStream(true).start();
    }

    @Test
    void echoesUntilSigtermThenShutsDownGracefullyAndExitsZero() throws Exception {
        Process p = startEcho("127.0.0.1:0");
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()));
            int port = -1;
            for (String line; port < 0 && (line = out.readLine()) != null; ) {
                Matcher m = LISTENING.matcher(line);
                if (m.find()) {
                    port = Integer.parseInt(m.group(1));
                }
            }
            assertThat(port).as("the INFO line with the bound address").isPositive();

            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(10_000);
                DataOutputStream o = new DataOutputStream(s.getOutputStream());
                DataInputStream i = new DataInputStream(s.getInputStream());
                o.writeInt(3);
                o.write(new byte[] {1, 2, 3});
                o.flush();
                assertThat(i.readInt()).isEqualTo(3);
                assertThat(i.readNBytes(3)).containsExactly(1, 2, 3);

                // An oversized length header closes this connection only.
                try (Socket bad = new Socket("127.0.0.1", port)) {
                    bad.setSoTimeout(10_000);
                    new DataOutputStream(bad.getOutputStream()).writeInt(Integer.MAX_VALUE);
                    assertThat(bad.getInputStream().read()).isEqualTo(-1);
                }
                o.writeInt(1);
                o.write(9);
                o.flush();
                assertThat(i.readInt()).isEqualTo(1);
                assertThat(i.read()).isEqualTo(9);

                p.destroy(); // SIGTERM
                assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
                assertThat(p.exitValue()).isZero();
                assertThat(i.read()).as("connection closed by the shutdown").isEqualTo(-1);
            }
        } finally {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    @Timeout(60)
    void anIpv6AddressIsLoggedInBracketsAsTheServerWritesIt() throws Exception {
        Process p = startEcho("[::1]:0");
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()));
            Pattern address = Pattern.compile("(server\\.start|echo\\.listening) .*address=\"?([^\" ]+)");
            String started = null;
            String listening = null;
            for (String line; (started == null || listening == null) && (line = out.readLine()) != null; ) {
                Matcher m = address.matcher(line);
                if (m.find()) {
                    if (m.group(1).equals("server.start")) {
                        started = m.group(2);
                    } else {
                        listening = m.group(2);
                    }
                }
            }
            // host:port with the IPv6 host in brackets, the same on both lines: not 0:0:0:0:0:0:0:1:port
            assertThat(started).as("server.start's address").matches("\\[0:0:0:0:0:0:0:1]:\\d+");
            assertThat(listening).as("echo.listening's address").isEqualTo(started);
        } finally {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void hostPortBracketsAnIpv6HostAsAUrlNeeds() {
        assertThat(HostPorts.format(new java.net.InetSocketAddress("::1", 9100))).isEqualTo("[0:0:0:0:0:0:0:1]:9100");
        assertThat(HostPorts.format(new java.net.InetSocketAddress("127.0.0.1", 9100))).isEqualTo("127.0.0.1:9100");
    }

    /** The config the echo command would listen with, given these arguments. */
    private static ServerConfig configFor(String... args) {
        EchoCommand command = new EchoCommand();
        new CommandLine(command).setCaseInsensitiveEnumValuesAllowed(true).registerConverter(Duration.class, Durations::parse)
                .parseArgs(args);
        return command.serverConfig();
    }

    @Test
    void theDeploymentOptionsMakeTheirConfig() {
        ServerConfig c = configFor("--proxy-protocol", "required", "--trusted-proxy", "127.0.0.1/32,10.0.0.0/8",
                "--max-conn-per-ip", "20", "--conn-rate-per-ip", "5", "--deny", "192.0.2.0/24", "--reuse-port",
                "--addr", "unix:echo.sock", "--unix-permissions", "rw-rw----");
        assertThat(c.proxyProtocol().mode()).isEqualTo(io.stcp.ProxyProtocol.Mode.REQUIRED);
        assertThat(c.proxyProtocol().trustedProxies()).containsExactly("127.0.0.1/32", "10.0.0.0/8");
        assertThat(c.ipLimits().maxConnPerIp()).isEqualTo(20);
        assertThat(c.ipLimits().connectionsPerSecondPerIp()).isEqualTo(5.0);
        assertThat(c.ipLimits().deny()).containsExactly("192.0.2.0/24");
        assertThat(c.reusePort()).isTrue();
        assertThat(c.address()).isEqualTo("unix:echo.sock");
        assertThat(c.unixSocketPermissions()).isEqualTo("rw-rw----");
        assertThat(configFor("--trusted-proxy", "127.0.0.1").proxyProtocol().mode()).as("a trusted proxy implies required")
                .isEqualTo(io.stcp.ProxyProtocol.Mode.REQUIRED);
        assertThat(configFor().proxyProtocol().isEnabled()).isFalse();
        assertThat(configFor().ipLimits().isEnabled()).isFalse();
    }

    @Test
    void aSilentPeerIsDroppedByDefaultAndTheOptionsOrTheConfigFileSayOtherwise(@TempDir Path dir) throws Exception {
        ServerConfig c = configFor();
        assertThat(c.firstFrameTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(c.readIdleTimeout()).isEqualTo(Duration.ofMinutes(5));
        c = configFor("--first-frame-timeout", "0", "--read-idle-timeout", "1m");
        assertThat(c.firstFrameTimeout()).as("0 = none").isEqualTo(Duration.ZERO);
        assertThat(c.readIdleTimeout()).isEqualTo(Duration.ofMinutes(1));
        Path file = Files.writeString(dir.resolve("server.json"), "{\"firstFrameTimeout\": \"2s\"}");
        c = configFor("--config", file.toString());
        assertThat(c.firstFrameTimeout()).as("the file's").isEqualTo(Duration.ofSeconds(2));
        assertThat(c.readIdleTimeout()).as("absent from the file: the example's").isEqualTo(Duration.ofMinutes(5));
    }

    @Test
    void aConfigFileWithoutAnAddressListensOnLoopbackNotOnAllInterfaces(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("server.json"), "{\"maxConn\": 10}");
        ServerConfig c = configFor("--config", file.toString());
        assertThat(c.address()).isEqualTo("127.0.0.1:9000");
        assertThat(c.maxConn()).isEqualTo(10);
        assertThat(c.acceptDelay()).as("other absent fields keep the defaults").isEqualTo(ServerConfig.DEFAULT_ACCEPT_DELAY);
    }

    @Test
    void anOptionOverridesItsOwnFieldOfTheConfigFilesLimitsAndKeepsTheOthers(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("server.json"), """
                { "ipLimits": { "maxConnPerIp": 20, "connectionsPerSecondPerIp": 5, "burstPerIp": 30, "deny": ["192.0.2.0/24"] },
                  "proxyProtocol": { "mode": "optional", "trustedProxies": ["10.0.0.0/8"], "headerTimeout": "2s",
                                     "maxHeaderLength": 1024 } }""");

        ServerConfig c = configFor("--config", file.toString(), "--deny", "198.51.100.0/24");
        assertThat(c.ipLimits().deny()).as("the option's own field").containsExactly("198.51.100.0/24");
        assertThat(c.ipLimits().maxConnPerIp()).as("the file's other limits stay").isEqualTo(20);
        assertThat(c.ipLimits().connectionsPerSecondPerIp()).isEqualTo(5.0);
        assertThat(c.ipLimits().burstPerIp()).isEqualTo(30);

        c = configFor("--config", file.toString(), "--max-conn-per-ip", "3");
        assertThat(c.ipLimits().maxConnPerIp()).isEqualTo(3);
        assertThat(c.ipLimits().deny()).containsExactly("192.0.2.0/24");
        assertThat(c.ipLimits().burstPerIp()).isEqualTo(30);

        c = configFor("--config", file.toString(), "--trusted-proxy", "127.0.0.1/32");
        assertThat(c.proxyProtocol().trustedProxies()).containsExactly("127.0.0.1/32");
        assertThat(c.proxyProtocol().mode()).as("the file's mode stays").isEqualTo(io.stcp.ProxyProtocol.Mode.OPTIONAL);
        assertThat(c.proxyProtocol().headerTimeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(c.proxyProtocol().maxHeaderLength()).isEqualTo(1024);

        c = configFor("--config", file.toString(), "--proxy-protocol", "required");
        assertThat(c.proxyProtocol().mode()).isEqualTo(io.stcp.ProxyProtocol.Mode.REQUIRED);
        assertThat(c.proxyProtocol().trustedProxies()).as("the file's trusted proxies stay").containsExactly("10.0.0.0/8");
        assertThat(c.proxyProtocol().headerTimeout()).isEqualTo(Duration.ofSeconds(2));

        // Turning a limit or the header off turns off what refined it; a refinement given with off is refused.
        c = configFor("--config", file.toString(), "--proxy-protocol", "off");
        assertThat(c.proxyProtocol()).as("no trusted proxies nor header settings left over").isEqualTo(io.stcp.ProxyProtocol.off());
        assertThatThrownBy(() -> configFor("--config", file.toString(), "--proxy-protocol", "off", "--trusted-proxy", "127.0.0.1"))
                .hasMessageStartingWith("trustedProxies: [127.0.0.1] while the mode is OFF");
        c = configFor("--config", file.toString(), "--conn-rate-per-ip", "0");
        assertThat(c.ipLimits().burstPerIp()).as("the burst goes with its rate").isZero();
        assertThat(c.ipLimits().maxConnPerIp()).isEqualTo(20);
        Path tracked = Files.writeString(dir.resolve("tracked.json"),
                "{ \"ipLimits\": { \"maxConnPerIp\": 20, \"maxTrackedIps\": 1000 } }");
        c = configFor("--config", tracked.toString(), "--max-conn-per-ip", "0");
        assertThat(c.ipLimits()).as("and the table of the limits turned off").isEqualTo(io.stcp.IpLimits.none());
    }

    @Test
    void theAddressComesFromTheOptionThenTheConfigFileThenTheLoopbackDefault(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("server.json"), "{\"address\": \":7000\"}");
        assertThat(configFor().address()).isEqualTo("127.0.0.1:9000");
        assertThat(configFor("--config", file.toString()).address()).isEqualTo(":7000");
        assertThat(configFor("--config", file.toString(), "--addr", "127.0.0.1:0").address()).isEqualTo("127.0.0.1:0");
    }

    @Test
    void tlsOptionsMakeATlsServerAndGoInPairs(@TempDir Path dir) throws Exception {
        boolean openssl = Files.isExecutable(Path.of("/usr/bin/openssl"));
        if (!openssl && "true".equals(System.getenv("CI"))) {
            throw new AssertionError("openssl not found and CI=true: this test must run on CI");
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(openssl, "openssl not found: skipped");
        Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-keyout", "key.pem", "-out", "cert.pem",
                "-subj", "/CN=localhost").directory(dir.toFile()).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        assertThat(p.waitFor()).isZero();
        String cert = dir.resolve("cert.pem").toString();
        String key = dir.resolve("key.pem").toString();
        ServerConfig c = configFor("--tls-cert", cert, "--tls-key", key);
        assertThat(c.tls()).isNotNull();
        assertThat(c.tls().clientAuth()).isEqualTo(io.stcp.TlsConfig.ClientAuth.NONE);
        ServerConfig mutual = configFor("--tls-cert", cert, "--tls-key", key, "--tls-client-ca", cert);
        assertThat(mutual.tls().clientAuth()).isEqualTo(io.stcp.TlsConfig.ClientAuth.REQUIRED);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> configFor("--tls-cert", cert))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--tls-key");
        assertThat(configFor().tls()).isNull();
    }
}
