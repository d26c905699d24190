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

    @Option(names = "--addr", description = "Listen address, e.g. 127.0.0.1:9000 or :9000 (default: 127.0.0.1:9000,"
            + " or the config file's address).")
    String address;

    @Option(names = "--max-conn", description = "Maximum concurrent connections (0 = no limit).")
    Integer maxConn;

    @Option(names = "--queue", description = "Send queue capacity per connection, in frames (default: ${DEFAULT-VALUE}).",
            defaultValue = "1024")
    int queue;

    @Option(names = "--write-timeout", description = "Write timeout, e.g. 5s or 500ms; 0 = none.")
    Duration writeTimeout;

    @Option(names = "--config", description = "JSON server config (Go field names); options given here override it.")
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

    @Override
    public Integer call() throws Exception {
        System.setProperty("io.stcp.transport", transport);
        ServerConfig.Builder b = (config == null ? ServerConfig.defaults() : ServerConfigJson.read(config)).toBuilder();
        if (address != null) {
            b.address(address);
        } else if (config == null) {
            b.address("127.0.0.1:9000");
        }
        if (maxConn != null) {
            b.maxConn(maxConn);
        }
        if (writeTimeout != null) {
            b.writeTimeout(writeTimeout);
        }
        TcpServer server = EchoServer.create(b.build(), queue, writeInline).start();
        LOG.atInfo().setMessage("echo.listening").addKeyValue("address", server.address()).log();
        CountDownLatch stopped = Signals.onTermination(() -> server.shutdown(grace));
        server.awaitTermination();
        stopped.await();
        return 0;
    }
}
