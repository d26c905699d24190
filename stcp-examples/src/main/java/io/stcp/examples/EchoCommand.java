package io.stcp.examples;

import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import io.stcp.jackson.ServerConfigJson;
import java.nio.file.Path;
import java.time.Duration;
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

    @Option(names = "--addr", description = "Listen address, e.g. 127.0.0.1:9000 or :9000 (default: the config"
            + " file's address; " + DEFAULT_ADDRESS + " when neither gives one).")
    String address;

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

    @Option(names = "--first-frame-timeout", description = "The first frame must be complete this long after the"
            + " accept; 0 = none (default: the config's, none).")
    Duration firstFrameTimeout;

    @Option(names = "--read-idle-timeout", description = "Close a connection silent this long; 0 = none.")
    Duration readIdleTimeout;

    @Option(names = "--config", description = "JSON server config (Go field names); options given here override it."
            + " Absent fields take the defaults, but an absent address is " + DEFAULT_ADDRESS + ", not all interfaces.")
    Path config;

    @Option(names = "--write-inline", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Let the reader write a reply itself when nothing is queued (default: ${DEFAULT-VALUE}).")
    boolean writeInline;

    @Option(names = "--transport", defaultValue = "auto", description = "auto (epoll when available, else the"
            + " JDK's), jdk or epoll; the same as -Dio.stcp.transport (default: ${DEFAULT-VALUE}).")
    String transport;

    @Option(names = "--grace", description = "Grace period for the shutdown on SIGTERM (default: ${DEFAULT-VALUE}).",
            defaultValue = "5s")
    Duration grace;

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
        TcpServer server = EchoServer.create(serverConfig(), queue, writeInline).start();
        LOG.atInfo().setMessage("echo.listening").addKeyValue("address", server.address().getHostString() + ":"
                + server.address().getPort()).log();
        MetricsEndpoint metrics = null;
        try {
            if (metricsPort != null) {
                metrics = MetricsEndpoint.start(server, "echo", metricsHost, metricsPort);
                LOG.atInfo().setMessage("echo.metrics").addKeyValue("url", "http://" + metrics.address().getHostString()
                        + ":" + metrics.address().getPort() + MetricsEndpoint.PATH).log();
            }
            server.runUntilSignal(grace); // SIGINT/SIGTERM: graceful shutdown, then exit 0
        } finally {
            if (metrics != null) {
                metrics.close();
            }
            server.close(); // no effect after runUntilSignal; stops the server if the endpoint failed
        }
        return 0;
    }

    /**
     * The server config: the defaults with {@link #DEFAULT_ADDRESS}, then the config file's fields,
     * then the options given on the command line.
     */
    ServerConfig serverConfig() {
        ServerConfig base = ServerConfig.builder().address(DEFAULT_ADDRESS).build();
        ServerConfig.Builder b = (config == null ? base : ServerConfigJson.read(config, base)).toBuilder();
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
        return b.build();
    }
}
