package io.stcp.cluster;

import io.stcp.cluster.internal.ClusterThreads;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test that leaves this module's threads running or a child process (redis-server,
 * haproxy) alive. The core's LeakCheck, registered for every test, checks stcp's threads and the
 * sockets of this process.
 */
final class ClusterLeakCheck implements AfterEachCallback {
    private static final Duration SETTLE = Duration.ofSeconds(10);

    @Override
    public void afterEach(ExtensionContext context) {
        try {
            Awaitility.await("stcp-cluster threads to end").pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(5))
                    .atMost(SETTLE).until(() -> ClusterThreads.live().isEmpty());
        } catch (ConditionTimeoutException e) {
            StringBuilder sb = new StringBuilder();
            for (Thread t : ClusterThreads.live()) {
                sb.append("\n  ").append(t.getName());
                for (StackTraceElement frame : t.getStackTrace()) {
                    sb.append("\n      at ").append(frame);
                }
            }
            throw new AssertionError("stcp-cluster threads still running after the test:" + sb);
        }
        try {
            Awaitility.await("child processes to end").pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(10))
                    .atMost(SETTLE).until(() -> ProcessHandle.current().children().noneMatch(ProcessHandle::isAlive));
        } catch (ConditionTimeoutException e) {
            StringBuilder sb = new StringBuilder();
            ProcessHandle.current().children().filter(ProcessHandle::isAlive)
                    .forEach(p -> sb.append("\n  ").append(p.pid()).append(' ').append(p.info().command().orElse("?")));
            throw new AssertionError("child processes still running after the test:" + sb);
        }
    }
}
