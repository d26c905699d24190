package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

class MaxConnTest {
    private static final int MAX = 8;

    /** Connects {@code n} clients at once; returns them split into served and rejected. */
    private static List<List<TestClient>> connectAtOnce(TcpServer server, int n) throws Exception {
        List<TestClient> served = new CopyOnWriteArrayList<>();
        List<TestClient> rejected = new CopyOnWriteArrayList<>();
        List<Throwable> errors = new CopyOnWriteArrayList<>();
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            threads.add(Thread.ofVirtual().start(() -> {
                TestClient c = null;
                try {
                    go.await();
                    c = TestClient.connect(server.address());
                    if (pingSucceeds(c)) {
                        served.add(c);
                    } else {
                        rejected.add(c);
                    }
                } catch (Throwable t) {
                    errors.add(t);
                    closeQuietly(c);
                }
            }));
        }
        go.countDown();
        for (Thread t : threads) {
            t.join();
        }
        assertThat(errors).isEmpty();
        return List.of(served, rejected);
    }

    private static boolean pingSucceeds(TestClient c) {
        try {
            return c.roundTrip(new byte[] {42})[0] == 42;
        } catch (IOException e) {
            return false; // closed by the server
        }
    }

    private static void closeQuietly(TestClient c) {
        if (c != null) {
            try {
                c.close();
            } catch (IOException ignored) {
                // best effort
            }
        }
    }

    @RepeatedTest(3)
    void theLimitIsExactUnderConcurrentConnectsAndRecoversAfterDisconnects() throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().maxConn(MAX).build(), Echo.READER, SenderFactory.queue(8))
                .start();
        List<TestClient> all = new ArrayList<>();
        try {
            List<List<TestClient>> first = connectAtOnce(server, 4 * MAX);
            all.addAll(first.get(0));
            all.addAll(first.get(1));
            assertThat(first.get(0)).hasSize(MAX);
            assertThat(first.get(1)).hasSize(3 * MAX);
            assertThat(server.connectionCount()).isEqualTo(MAX);
            assertThat(server.rejectedCount()).isEqualTo(3 * MAX);

            for (TestClient c : all) {
                c.close();
            }
            Awaitility.await().until(() -> server.connectionCount() == 0);

            List<List<TestClient>> second = connectAtOnce(server, MAX);
            all.addAll(second.get(0));
            all.addAll(second.get(1));
            assertThat(second.get(0)).hasSize(MAX);
            assertThat(server.rejectedCount()).isEqualTo(3 * MAX);
            assertThat(server.acceptedCount()).isEqualTo(2 * MAX);
        } finally {
            all.forEach(MaxConnTest::closeQuietly);
            Echo.stop(server);
        }
    }

    @Test
    void theConnectionCountNeverReadsAboveMaxConnWhileConnectionsAreRejected() throws Exception {
        int rejects = 500; // each one had the old count at maxConn + 1 for a moment
        TcpServer server = TcpServer.create(Echo.loopback().maxConn(1).build(), Echo.READER, SenderFactory.queue(8))
                .start();
        AtomicBoolean sampling = new AtomicBoolean(true);
        AtomicInteger highest = new AtomicInteger();
        Thread sampler = Thread.ofPlatform().start(() -> {
            while (sampling.get()) {
                highest.accumulateAndGet(server.connectionCount(), Math::max);
            }
        });
        try (TestClient held = TestClient.connect(server.address())) {
            assertThat(pingSucceeds(held)).isTrue();
            for (int i = 0; i < rejects; i++) {
                try (TestClient c = TestClient.connect(server.address())) {
                    assertThat(c.awaitClosedByServer()).isTrue();
                }
            }
            Awaitility.await().until(() -> server.rejectedCount() == rejects);
        } finally {
            sampling.set(false);
            sampler.join();
            Echo.stop(server);
        }
        assertThat(highest.get()).as("the highest connectionCount() seen while %d connects were rejected", rejects)
                .isEqualTo(1);
    }
}
