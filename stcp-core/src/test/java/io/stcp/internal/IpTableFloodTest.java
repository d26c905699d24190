package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.IpLimits;
import io.stcp.RejectReason;
import io.stcp.SenderFactory;
import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** The per-address table under connections from many source addresses (127/8 all routes to lo). */
class IpTableFloodTest {

    @Test
    void theTableStaysWithinItsBoundUnderAFloodFromManyAddressesAndItsEntriesExpire() throws Exception {
        int bound = 64;
        int sources = 400;
        RealTcpServer server = new RealTcpServer(Echo.loopback().ipLimits(IpLimits.builder()
                .connectionsPerSecondPerIp(2).maxTrackedIps(bound).build()).build(), Echo.READER, SenderFactory.queue(8),
                UnaryOperator.identity(), System::nanoTime);
        server.start();
        AtomicBoolean sampling = new AtomicBoolean(true);
        AtomicInteger highest = new AtomicInteger();
        Thread sampler = Thread.ofPlatform().start(() -> {
            while (sampling.get()) {
                highest.accumulateAndGet(server.trackedAddressCount(), Math::max);
            }
        });
        try {
            int served = 0;
            for (int i = 0; i < sources; i++) {
                String from = "127.1." + (i / 250) + "." + (1 + i % 250);
                try (TestClient c = TestClient.connectFrom(from, server.address())) {
                    try {
                        c.sendFrame(new byte[] {1});
                        c.readFrame();
                        served++;
                    } catch (java.io.IOException refused) {
                        // the table was full
                    }
                }
            }
            assertThat(served).as("served").isGreaterThanOrEqualTo(bound);
            assertThat(server.rejectedCount(RejectReason.IP_TABLE_FULL)).isEqualTo(sources - served);
            assertThat(server.trackedAddressCount()).isLessThanOrEqualTo(bound);
            // Buckets refill in 0.5 s; the sweeper then empties the table, and new addresses get in again.
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> server.trackedAddressCount() == 0);
            try (TestClient c = TestClient.connectFrom("127.2.0.1", server.address())) {
                assertThat(c.roundTrip(new byte[] {2})).containsExactly(2);
            }
        } finally {
            sampling.set(false);
            sampler.join();
            Echo.stop(server);
        }
        assertThat(highest.get()).as("the most entries ever seen").isLessThanOrEqualTo(bound);
    }
}
