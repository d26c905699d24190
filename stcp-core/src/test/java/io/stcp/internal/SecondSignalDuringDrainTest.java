package io.stcp.internal;

import io.stcp.TcpServer;
import io.stcp.testing.OwnJvm;
import io.stcp.testing.StuckReplies;
import io.stcp.testing.TestClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link TcpServer#runUntilSignal(Duration, Duration)} with a drain, in a JVM of its own (the
 * signals are real): a second SIGTERM during the drain closes the server, discarding what a client
 * that never reads has queued, and the wait must then return false — it returned true, as if every
 * client had left by itself.
 */
class SecondSignalDuringDrainTest {

    public static void main(String[] args) throws Exception {
        CountDownLatch queued = new CountDownLatch(1);
        TcpServer server = StuckReplies.start(queued);
        try (TestClient client = TestClient.connect(server.address())) { // never reads, never leaves
            client.sendRaw(new byte[4]);
            if (!queued.await(20, TimeUnit.SECONDS)) {
                System.out.println("the replies were not queued");
                System.exit(3);
            }
            AtomicReference<Object> end = new AtomicReference<>();
            Thread waiting = Thread.ofPlatform().start(() -> {
                try {
                    end.set(server.runUntilSignal(Duration.ofSeconds(30), Duration.ofSeconds(5)));
                } catch (Exception e) {
                    end.set(e);
                }
            });
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> SignalShutdownTest.waitsForASignal(waiting));
            SignalShutdownTest.raise("TERM");
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> SignalShutdownTest.refuses(server)); // draining
            SignalShutdownTest.raise("TERM"); // the second: closes the server, discarding the queued replies
            waiting.join(Duration.ofSeconds(20));
            if (waiting.isAlive()) {
                System.out.println("the second signal did not end the drain");
                System.exit(4);
            }
            if (!Boolean.FALSE.equals(end.get())) {
                System.out.println("runUntilSignal returned " + end.get() + " after the close discarded "
                        + server.stats().discarded() + " replies");
                System.exit(5);
            }
            System.out.println("runUntilSignal returned false; discarded " + server.stats().discarded());
        }
    }

    @Test
    void aSecondSignalThatClosesTheServerDuringTheDrainMakesTheResultFalse(@TempDir Path dir) throws Exception {
        OwnJvm.run(dir.resolve("second-signal.log"), 60, List.of(), SecondSignalDuringDrainTest.class);
    }
}
