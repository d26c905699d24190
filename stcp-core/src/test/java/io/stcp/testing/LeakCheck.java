package io.stcp.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.internal.DirectChunks;
import io.stcp.internal.Threads;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test that leaves stcp threads running or sockets open, or during which an exception
 * escaped an stcp thread. Registered for every test through JUnit's extension auto-detection
 * (see junit-platform.properties).
 *
 * <p>Threads: stcp starts every thread through {@link Threads}, whose live count must be back to
 * zero. Sockets: the number of socket descriptors of this process must be back to where it was
 * when the test started. Both are awaited for a few seconds, since exits finish asynchronously.
 */
public final class LeakCheck implements BeforeEachCallback, AfterEachCallback {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(LeakCheck.class);
    private static final Duration SETTLE = Duration.ofSeconds(10);

    static {
        // The direct pool's trimming thread (an stcp thread) ends two idle periods after the last
        // large message: a fifth of a second each here, not the default ten, so that it ends within
        // the wait below. Set before the pool's class is loaded, whatever runs the tests.
        if (System.getProperty(DirectChunks.IDLE_PROPERTY) == null) {
            System.setProperty(DirectChunks.IDLE_PROPERTY, "200");
        }
        // The JDK keeps one socketpair for the lifetime of the process, created the first time a
        // channel is closed (its "pre-close" descriptor). Create it now so it is not counted.
        try {
            java.nio.channels.ServerSocketChannel.open().close();
            java.nio.channels.SocketChannel.open().close();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        context.getStore(NS).put("sockets", openSockets());
        context.getStore(NS).put("uncaught", Threads.uncaught());
    }

    @Override
    public void afterEach(ExtensionContext context) {
        long before = context.getStore(NS).get("sockets", Long.class);
        long uncaughtBefore = context.getStore(NS).get("uncaught", Long.class);
        try {
            Awaitility.await("stcp threads to end").pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(5)).atMost(SETTLE).until(() -> Threads.live() == 0);
        } catch (ConditionTimeoutException e) {
            throw new AssertionError(Threads.live() + " stcp threads still running after the test:" + stcpThreads());
        }
        assertThat(Threads.uncaught() - uncaughtBefore).as("exceptions that escaped stcp threads (logged as thread.uncaught)")
                .isZero();
        try {
            Awaitility.await("sockets to close").pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(5)).atMost(SETTLE).until(() -> openSockets() <= before);
        } catch (ConditionTimeoutException e) {
            assertThat(openSockets()).as("socket descriptors left open by the test").isLessThanOrEqualTo(before);
        }
    }

    /**
     * The stcp threads in the JVM's thread dump, which lists virtual threads too, with their stacks
     * ({@code jcmd <this pid> Thread.dump_to_file}).
     */
    private static String stcpThreads() {
        try {
            Path dir = Files.createTempDirectory("stcp-leak");
            Path file = dir.resolve("threads.txt");
            try {
                Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
                Process p = new ProcessBuilder(jcmd.toString(), Long.toString(ProcessHandle.current().pid()),
                        "Thread.dump_to_file", file.toString()).redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
                if (!p.waitFor(30, TimeUnit.SECONDS) || !Files.exists(file)) {
                    p.destroyForcibly();
                    return " (no thread dump from " + jcmd + ")";
                }
                StringBuilder sb = new StringBuilder();
                for (String thread : Files.readString(file).split("\n\n")) {
                    if (thread.contains("\"stcp-") && !thread.contains("\"stcp-epoll")) { // pollers live as long as the JVM
                        sb.append("\n").append(thread.strip().indent(2).stripTrailing());
                    }
                }
                return sb.toString();
            } finally {
                Files.deleteIfExists(file);
                Files.delete(dir);
            }
        } catch (IOException | RuntimeException e) {
            return " (no thread dump: " + e + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return " (interrupted)";
        }
    }

    /** Socket descriptors of this process (Linux /proc); 0 where /proc is not available. */
    public static long openSockets() {
        Path fds = Path.of("/proc/self/fd");
        if (!Files.isDirectory(fds)) {
            return 0;
        }
        try (Stream<Path> s = Files.list(fds)) {
            return s.filter(p -> {
                try {
                    return Files.readSymbolicLink(p).toString().startsWith("socket:");
                } catch (IOException e) {
                    return false; // closed while listing
                }
            }).count();
        } catch (IOException e) {
            return 0;
        }
    }
}
