package io.stcp.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A restart without downtime, as the README describes it, with two real processes of the echo
 * example: the new one starts with {@code --reuse-port} on the port the old one serves, the old
 * one gets SIGTERM and drains; clients that connect and echo in a loop all the while see no
 * refused connection and no lost reply.
 */
class ReusePortHandoverTest {
    private static final Pattern LISTENING = Pattern.compile("echo\\.listening address=\"?/?127\\.0\\.0\\.1:(\\d+)");
    private static final Pattern STOPPED = Pattern.compile("echo\\.stopped accepted=\"?(\\d+)");
    private static final Path MIGRATE_REQ = Path.of("/proc/sys/net/ipv4/tcp_migrate_req");
    private static final int CLIENTS = 4;

    /**
     * One echo process; what it prints goes to a file (reading a pipe while the JDK drains it at
     * the process's exit can lose the last lines).
     */
    private static final class Echo implements AutoCloseable {
        final Process process;
        final Path log;

        Echo(int port, Path log) throws IOException {
            this.log = log;
            String java = ProcessHandle.current().info().command().orElseThrow();
            process = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"), "io.stcp.examples.Main",
                    "echo", "--addr", "127.0.0.1:" + port, "--reuse-port", "--drain", "20s", "--grace", "5s"))
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        }

        String output() {
            try {
                return Files.readString(log);
            } catch (IOException e) {
                return "";
            }
        }

        void awaitListening(int port) {
            Awaitility.await("echo listening on " + port).atMost(Duration.ofSeconds(30))
                    .until(() -> LISTENING.matcher(output()).find() || !process.isAlive());
            Matcher m = LISTENING.matcher(output());
            assertThat(m.find()).as("listening: " + output()).isTrue();
            assertThat(Integer.parseInt(m.group(1))).isEqualTo(port);
        }

        /** SIGTERM, then the exit code. */
        int stop() throws InterruptedException {
            process.destroy();
            assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("exited after SIGTERM").isTrue();
            return process.exitValue();
        }

        long accepted() {
            Matcher m = STOPPED.matcher(output());
            assertThat(m.find()).as("an echo.stopped line in " + output()).isTrue();
            return Long.parseLong(m.group(1));
        }

        @Override
        public void close() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            return s.getLocalPort();
        }
    }

    @TempDir
    Path dir;

    @Test
    void aNewProcessTakesThePortOverWhileTheOldOneDrainsAndNoClientNotices() throws Exception {
        boolean migrate = Files.isReadable(MIGRATE_REQ) && Files.readString(MIGRATE_REQ).trim().equals("1");
        if (!migrate && !"true".equals(System.getenv("CI"))) {
            Assumptions.abort("net.ipv4.tcp_migrate_req is not 1 (Linux 5.14+; .ci/run sets it): without it the kernel"
                    + " resets connections still queued on the old listener when it closes");
        }
        assertThat(migrate).as("net.ipv4.tcp_migrate_req = 1 (.ci/run sets it)").isTrue();
        int port = freePort();
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicLong ok = new AtomicLong();
        List<String> failures = new CopyOnWriteArrayList<>();
        List<Thread> clients = new ArrayList<>();
        Echo next = null;
        try (Echo old = new Echo(port, dir.resolve("old.log"))) {
            old.awaitListening(port);
            for (int i = 0; i < CLIENTS; i++) {
                int id = i;
                clients.add(Thread.ofPlatform().start(() -> {
                    long seq = 0;
                    while (running.get()) {
                        try {
                            echoOnce(port, "client " + id + " message " + seq++);
                            ok.incrementAndGet();
                        } catch (IOException | AssertionError e) {
                            failures.add(e.toString());
                        }
                    }
                }));
            }
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> ok.get() >= 200);
            next = new Echo(port, dir.resolve("new.log")); // binds the port the old one is serving
            next.awaitListening(port);
            long before = ok.get();
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> ok.get() >= before + 200);
            assertThat(old.stop()).as("old exit code").isZero();
            long afterOld = ok.get();
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> ok.get() >= afterOld + 200);
            running.set(false);
            for (Thread t : clients) {
                t.join();
            }
            assertThat(failures).as("refused connections or lost replies").isEmpty();
            assertThat(next.stop()).as("new exit code").isZero();
            assertThat(old.accepted()).as("connections the old process served").isPositive();
            assertThat(next.accepted()).as("connections the new process served").isPositive();
            assertThat(old.accepted() + next.accepted()).isEqualTo(ok.get());
        } finally {
            running.set(false);
            for (Thread t : clients) {
                t.join();
            }
            if (next != null) {
                next.close();
            }
        }
    }

    /** One connection: two frames echoed, then closed. */
    private static void echoOnce(int port, String text) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10_000);
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            DataInputStream in = new DataInputStream(s.getInputStream());
            byte[] body = text.getBytes(StandardCharsets.UTF_8);
            for (int i = 0; i < 2; i++) {
                out.writeInt(body.length);
                out.write(body);
                out.flush();
                int n = in.readInt();
                byte[] back = in.readNBytes(n);
                assertThat(new String(back, StandardCharsets.UTF_8)).isEqualTo(text);
            }
        }
    }
}
