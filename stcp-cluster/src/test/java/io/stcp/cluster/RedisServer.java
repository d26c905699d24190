package io.stcp.cluster;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Assumptions;

/**
 * A real {@code redis-server} (Debian's, installed by {@code .ci/run}) on a free loopback port, with
 * no persistence, in a temporary directory; stopped and started again on the same port. Tests
 * that need one are skipped when it is not installed, except on CI ({@code CI=true}), where they
 * fail instead.
 */
final class RedisServer implements AutoCloseable {
    private final String executable;
    private final Path dir;
    private final int port;
    private final List<String> options;
    private Process process;

    private RedisServer(String executable, Path dir, int port, List<String> options) {
        this.executable = executable;
        this.dir = dir;
        this.port = port;
        this.options = options;
    }

    static String find(String name, String aptPackage) {
        for (String d : (System.getenv().getOrDefault("PATH", "") + ":/usr/bin:/usr/sbin:/usr/local/bin:/usr/local/sbin:/sbin").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, name))) {
                return Path.of(d, name).toString();
            }
        }
        if ("true".equals(System.getenv("CI"))) {
            fail(name + " is not installed, and CI must run these tests (.ci/run installs it: apt-get install " + aptPackage + ")");
        }
        Assumptions.abort(name + " is not installed (apt-get install " + aptPackage + "): skipping the tests that need it");
        return null;
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** Starts a server; returns once it answers PING. */
    static RedisServer start(Path dir) throws IOException {
        return start(dir, List.of());
    }

    /** Starts a server with more command-line {@code options} ({@code "--requirepass", "pw"}); returns once it answers PING. */
    static RedisServer start(Path dir, List<String> options) throws IOException {
        RedisServer r = new RedisServer(find("redis-server", "redis-server"), dir, freePort(), List.copyOf(options));
        r.start();
        return r;
    }

    int port() {
        return port;
    }

    String address() {
        return "127.0.0.1:" + port;
    }

    void start() throws IOException {
        List<String> command = new ArrayList<>(List.of(executable, "--port", Integer.toString(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", dir.toString(), "--daemonize", "no",
                "--logfile", dir.resolve("redis.log").toString()));
        command.addAll(options);
        process = new ProcessBuilder(command)
                .redirectErrorStream(true).redirectOutput(dir.resolve("redis.out").toFile()).start();
        Awaitility.await("redis-server on port " + port + " (log: " + dir.resolve("redis.log") + ")")
                .atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(20)).until(this::answers);
    }

    private boolean answers() {
        if (!process.isAlive()) {
            throw new IllegalStateException("redis-server exited with " + process.exitValue() + " (log: " + dir.resolve("redis.log") + ")");
        }
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            s.setSoTimeout(1000);
            OutputStream out = s.getOutputStream();
            out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            byte[] reply = in.readNBytes(7);
            String answer = new String(reply, StandardCharsets.US_ASCII);
            return answer.equals("+PONG\r\n") || answer.equals("-NOAUTH"); // up; with a password, refused so
        } catch (IOException e) {
            return false;
        }
    }

    /** Stops the server (SIGTERM, then SIGKILL); its data is gone (no persistence). */
    void stop() throws InterruptedException {
        if (process == null) {
            return;
        }
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        process = null;
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }
}
