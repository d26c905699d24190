package io.stcp.examples;

import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import io.stcp.jackson.ServerConfigJson;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code echo}: an stcp server echoing length-prefixed frames until SIGINT/SIGTERM. */
@Command(name = "echo", mixinStandardHelpOptions = true,
        description = "Echo 4-byte big-endian length-prefixed frames (max 1 MiB) until SIGINT/SIGTERM.")
final class EchoCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(EchoCommand.class);

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

    @Option(names = "--tls-cert", description = "Serve TLS with this PEM certificate chain (needs --tls-key).")
    Path tlsCert;

    @Option(names = "--tls-key", description = "The PEM private key (PKCS#8 or PKCS#1 RSA) of --tls-cert.")
    Path tlsKey;

    @Option(names = "--tls-client-ca", description = "Require client certificates signed by a CA of this PEM bundle.")
    Path tlsClientCa;

    @Option(names = "--tls-watch", description = "Reload the TLS files when they change, polling this often, e.g. 10s.")
    Duration tlsWatch;

    @Override
    public Integer call() throws Exception {
        System.setProperty("io.stcp.transport", transport);
        TcpServer server = EchoServer.create(serverConfig(), queue, writeInline).start();
        LOG.atInfo().setMessage("echo.listening").addKeyValue("address", server.address()).log();
        CountDownLatch stopped = Signals.onTermination(() -> server.shutdown(grace));
        server.awaitTermination();
        stopped.await();
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
        if (tlsCert != null || tlsKey != null || tlsClientCa != null) {
            b.tls(TlsOptions.tls(tlsCert, tlsKey, tlsClientCa, tlsWatch));
        }
        return b.build();
    }
}
