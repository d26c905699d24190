package io.stcp.examples;

import io.stcp.IpLimits;
import io.stcp.ProxyProtocol;
import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import io.stcp.jackson.ServerConfigJson;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code echo}: an stcp server echoing length-prefixed frames until SIGINT/SIGTERM. */
@Command(name = "echo", mixinStandardHelpOptions = true,
        description = "Echo 4-byte big-endian length-prefixed frames (max 1 MiB) until SIGINT/SIGTERM.")
final class EchoCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(EchoCommand.class);

    @Spec
    CommandSpec spec;

    /** The address when neither --addr nor the config file gives one: loopback only, never all interfaces. */
    static final String DEFAULT_ADDRESS = "127.0.0.1:9000";

    @Option(names = "--addr", description = "Listen address, e.g. 127.0.0.1:9000, :9000 or unix:echo.sock (default:"
            + " the config file's address; " + DEFAULT_ADDRESS + " when neither gives one).")
    String address;

    @Option(names = "--proxy-protocol", description = "PROXY protocol header (v1 or v2) before each connection:"
            + " off, required or optional (default: the config file's; off without one, required when only"
            + " --trusted-proxy is given). Needs trusted proxies.")
    ProxyProtocol.Mode proxyProtocol;

    @Option(names = "--trusted-proxy", split = ",", paramLabel = "CIDR",
            description = "A network whose peers may send a PROXY header, e.g. 127.0.0.1/32 or 10.0.0.0/8 (repeatable).")
    List<String> trustedProxies = new ArrayList<>();

    @Option(names = "--max-conn-per-ip", description = "Maximum concurrent connections per client address (0 = no limit).")
    Integer maxConnPerIp;

    @Option(names = "--conn-rate-per-ip", description = "New connections per second per client address (0 = no limit).")
    Double connRatePerIp;

    @Option(names = "--allow", split = ",", paramLabel = "CIDR", description = "Serve only these networks (repeatable).")
    List<String> allow = new ArrayList<>();

    @Option(names = "--deny", split = ",", paramLabel = "CIDR", description = "Refuse these networks (repeatable).")
    List<String> deny = new ArrayList<>();

    @Option(names = "--reuse-port", description = "SO_REUSEPORT: let a new process listen on the same port while this one"
            + " runs, for a restart without downtime (on unix: take the socket file over).")
    boolean reusePort;

    @Option(names = "--unix-permissions", description = "Permissions of the unix: socket file, e.g. rw-rw----.")
    String unixPermissions;

    @Option(names = "--max-conn", description = "Maximum concurrent connections (0 = no limit).")
    Integer maxConn;

    @Option(names = "--queue", description = "Send queue capacity per connection, in frames (default: ${DEFAULT-VALUE}).",
            defaultValue = "1024")
    int queue;

    @Option(names = "--write-timeout", description = "Write timeout, e.g. 5s or 500ms; 0 = none.")
    Duration writeTimeout;

    @Option(names = "--frame-timeout", description = "A frame, once begun, must be complete within this, e.g. 10s;"
            + " 0 = none (default: the config's, 30s).")
    Duration frameTimeout;

    /** The first frame's deadline when neither the option nor the config file gives one: a silent peer leaves. */
    static final Duration DEFAULT_FIRST_FRAME_TIMEOUT = Duration.ofSeconds(10);

    /** The read-idle timeout when neither the option nor the config file gives one. */
    static final Duration DEFAULT_READ_IDLE_TIMEOUT = Duration.ofMinutes(5);

    @Option(names = "--first-frame-timeout", description = "The first frame must be complete this long after the"
            + " accept, or the connection is closed; 0 = none (default: the config file's; 10s without one).")
    Duration firstFrameTimeout;

    @Option(names = "--read-idle-timeout", description = "Close a connection that sends nothing for this long; 0 = none"
            + " (default: the config file's; 5m without one).")
    Duration readIdleTimeout;

    @Option(names = "--config", description = "JSON server config (Go field names); each option given here overrides"
            + " its own field (--deny replaces the file's deny list and keeps its other ipLimits, say)."
            + " Absent fields take the defaults, but an absent address is " + DEFAULT_ADDRESS + ", not all interfaces.")
    Path config;

    @Option(names = "--write-inline", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Let the reader write a reply itself when nothing is queued (default: ${DEFAULT-VALUE}).")
    boolean writeInline;

    @Option(names = "--batch-replies", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Let the reader write the replies to pipelined requests itself, one write per batch, before"
                    + " it waits for more (epoll transport; default: ${DEFAULT-VALUE}).")
    boolean batchReplies;

    @Option(names = "--transport", defaultValue = "auto", description = "auto (epoll when available, else the"
            + " JDK's), jdk or epoll; the same as -Dio.stcp.transport (default: ${DEFAULT-VALUE}).")
    String transport;

    @Option(names = "--grace", description = "Grace period for the shutdown on SIGTERM (default: ${DEFAULT-VALUE}).",
            defaultValue = "5s")
    Duration grace;

    @Option(names = "--drain", description = "On SIGTERM, first stop listening and wait this long for clients to leave"
            + " by themselves, then shut down with --grace (default: ${DEFAULT-VALUE}: shut down at once). For a restart"
            + " without downtime with --reuse-port.", defaultValue = "0s")
    Duration drain;

    @Option(names = "--tls-cert", description = "Serve TLS with this PEM certificate chain (needs --tls-key).")
    Path tlsCert;

    @Option(names = "--tls-key", description = "The PEM private key (PKCS#8 or PKCS#1 RSA) of --tls-cert.")
    Path tlsKey;

    @Option(names = "--tls-client-ca", description = "Require client certificates signed by a CA of this PEM bundle.")
    Path tlsClientCa;

    @Option(names = "--tls-watch", description = "Reload the TLS files when they change, polling this often, e.g. 10s.")
    Duration tlsWatch;

    @Option(names = "--metrics-port", description = "Serve Prometheus metrics at http://HOST:PORT/metrics (0 = any free"
            + " port, logged as echo.metrics); none when absent.")
    Integer metricsPort;

    @Option(names = "--metrics-host", defaultValue = "127.0.0.1", description = "The address the metrics endpoint"
            + " listens on (default: ${DEFAULT-VALUE}, loopback only; 0.0.0.0 for every interface).")
    String metricsHost;

    @Override
    public Integer call() throws Exception {
        if (metricsPort != null && (metricsPort < 0 || metricsPort > 65535)) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--metrics-port: " + metricsPort + " (expected: 0 to 65535)");
        }
        System.setProperty("io.stcp.transport", transport);
        TcpServer server = EchoServer.create(serverConfig(), queue, writeInline, batchReplies).start();
        SocketAddress bound = server.localAddress();
        LOG.atInfo().setMessage("echo.listening").addKeyValue("address", bound instanceof InetSocketAddress inet
                ? HostPorts.format(inet) : "unix:" + bound).log();
        MetricsEndpoint metrics = null;
        try {
            if (metricsPort != null) {
                metrics = MetricsEndpoint.start(server, "echo", metricsHost, metricsPort);
                LOG.atInfo().setMessage("echo.metrics").addKeyValue("url", "http://" + HostPorts.format(metrics.address())
                        + MetricsEndpoint.PATH).log();
            }
            // SIGINT/SIGTERM: drain (if asked), graceful shutdown, then exit 0
            server.runUntilSignal(drain, grace);
        } finally {
            if (metrics != null) {
                metrics.close();
            }
            server.close(); // no effect after runUntilSignal; stops the server if the endpoint failed
        }
        LOG.atInfo().setMessage("echo.stopped").addKeyValue("accepted", server.acceptedCount())
                .addKeyValue("rejected", server.rejectedCount()).addKeyValue("healthChecks", server.healthCheckCount())
                .log();
        return 0;
    }

    /**
     * The server config: the defaults with {@link #DEFAULT_ADDRESS} and this example's timeouts for
     * silent peers ({@link #DEFAULT_FIRST_FRAME_TIMEOUT}, {@link #DEFAULT_READ_IDLE_TIMEOUT}), then
     * the config file's fields, then the options given on the command line.
     */
    ServerConfig serverConfig() {
        ServerConfig base = ServerConfig.builder().address(DEFAULT_ADDRESS)
                .firstFrameTimeout(DEFAULT_FIRST_FRAME_TIMEOUT).readIdleTimeout(DEFAULT_READ_IDLE_TIMEOUT).build();
        ServerConfig file = config == null ? base : ServerConfigJson.read(config, base);
        ServerConfig.Builder b = file.toBuilder();
        if (address != null) {
            b.address(address);
        }
        if (maxConn != null) {
            b.maxConn(maxConn);
        }
        if (writeTimeout != null) {
            b.writeTimeout(writeTimeout);
        }
        if (frameTimeout != null) {
            b.frameTimeout(frameTimeout);
        }
        if (firstFrameTimeout != null) {
            b.firstFrameTimeout(firstFrameTimeout);
        }
        if (readIdleTimeout != null) {
            b.readIdleTimeout(readIdleTimeout);
        }
        // Each option overrides its own field of the file's settings; the file's other fields stay.
        if (proxyProtocol != null || !trustedProxies.isEmpty()) {
            ProxyProtocol p = file.proxyProtocol();
            ProxyProtocol.Mode mode = proxyProtocol != null ? proxyProtocol
                    : p.isEnabled() ? p.mode() : ProxyProtocol.Mode.REQUIRED; // a trusted proxy alone implies required
            // off turns the file's header settings off with it; a trusted proxy given with it is refused
            b.proxyProtocol(mode == ProxyProtocol.Mode.OFF && trustedProxies.isEmpty() ? ProxyProtocol.off()
                    : new ProxyProtocol(mode, trustedProxies.isEmpty() ? p.trustedProxies() : trustedProxies,
                            p.headerTimeout(), p.maxHeaderLength()));
        }
        if (maxConnPerIp != null || connRatePerIp != null || !allow.isEmpty() || !deny.isEmpty()) {
            IpLimits.Builder limits = file.ipLimits().toBuilder();
            if (!allow.isEmpty()) {
                limits.allow(allow);
            }
            if (!deny.isEmpty()) {
                limits.deny(deny);
            }
            if (maxConnPerIp != null) {
                limits.maxConnPerIp(maxConnPerIp);
            }
            if (connRatePerIp != null) {
                limits.connectionsPerSecondPerIp(connRatePerIp);
                if (connRatePerIp == 0) {
                    limits.burstPerIp(0); // the file's burst goes with the rate it refined
                }
            }
            IpLimits f = file.ipLimits();
            if (f.tracksAddresses() && (maxConnPerIp != null ? maxConnPerIp : f.maxConnPerIp()) == 0
                    && (connRatePerIp != null ? connRatePerIp : f.connectionsPerSecondPerIp()) == 0) {
                limits.maxTrackedIps(IpLimits.DEFAULT_MAX_TRACKED_IPS); // and the table of the limits turned off
            }
            b.ipLimits(limits.build());
        }
        if (reusePort) {
            b.reusePort(true);
        }
        if (unixPermissions != null) {
            b.unixSocketPermissions(unixPermissions);
        }
        if (tlsCert != null || tlsKey != null || tlsClientCa != null) {
            b.tls(TlsOptions.tls(tlsCert, tlsKey, tlsClientCa, tlsWatch));
        }
        return b.build();
    }
}
