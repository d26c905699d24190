package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.IpLimits;
import io.stcp.RejectReason;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

class IpGateTest {
    private final AtomicLong now = new AtomicLong(1_000_000);

    private IpGate gate(IpLimits limits) {
        return new IpGate(limits, null, now::get);
    }

    private static InetAddress ip(String text) throws Exception {
        return InetAddress.getByName(text);
    }

    private void advanceMillis(long ms) {
        now.addAndGet(TimeUnit.MILLISECONDS.toNanos(ms));
    }

    @Test
    void theRateLetsABurstThroughThenOneConnectionPerInterval() throws Exception {
        IpGate g = gate(IpLimits.builder().connectionsPerSecondPerIp(10).burstPerIp(3).build());
        InetAddress a = ip("10.0.0.1");
        for (int i = 0; i < 3; i++) {
            assertThat(g.admit(a)).as("burst " + i).isNull();
        }
        assertThat(g.admit(a)).isEqualTo(RejectReason.RATE_PER_IP);
        assertThat(g.admit(ip("10.0.0.2"))).as("another address has its own bucket").isNull();
        advanceMillis(99);
        assertThat(g.admit(a)).isEqualTo(RejectReason.RATE_PER_IP);
        advanceMillis(1);
        assertThat(g.admit(a)).as("one token after 100 ms").isNull();
        assertThat(g.admit(a)).isEqualTo(RejectReason.RATE_PER_IP);
        advanceMillis(10_000);
        for (int i = 0; i < 3; i++) {
            assertThat(g.admit(a)).as("a full bucket again, never more than the burst").isNull();
        }
        assertThat(g.admit(a)).isEqualTo(RejectReason.RATE_PER_IP);
    }

    @Test
    void aRateTooSmallToMeasureInNanosecondsStillLetsItsBurstThrough() throws Exception {
        // One connection per ~30,000 years, three at once: the interval times two overflowed a long.
        IpGate g = gate(IpLimits.builder().connectionsPerSecondPerIp(1e-12).burstPerIp(3).build());
        InetAddress a = ip("10.0.0.1");
        for (int i = 0; i < 3; i++) {
            assertThat(g.admit(a)).as("burst " + i).isNull();
        }
        assertThat(g.admit(a)).isEqualTo(RejectReason.RATE_PER_IP);
        advanceMillis(1000);
        assertThat(g.admit(a)).isEqualTo(RejectReason.RATE_PER_IP);
    }

    @Test
    void theDefaultBurstIsTheRateRoundedUp() {
        assertThat(IpLimits.builder().connectionsPerSecondPerIp(2.5).build().effectiveBurstPerIp()).isEqualTo(3);
        assertThat(IpLimits.builder().connectionsPerSecondPerIp(0.1).build().effectiveBurstPerIp()).isEqualTo(1);
    }

    @Test
    void theCountIsPerAddressAndFreedOnRelease() throws Exception {
        IpGate g = gate(IpLimits.builder().maxConnPerIp(2).build());
        InetAddress a = ip("10.0.0.1");
        assertThat(g.admit(a)).isNull();
        assertThat(g.admit(a)).isNull();
        assertThat(g.admit(a)).isEqualTo(RejectReason.MAX_CONN_PER_IP);
        assertThat(g.admit(ip("10.0.0.2"))).isNull();
        g.release(a);
        assertThat(g.admit(a)).isNull();
        g.release(a);
        g.release(a);
        g.release(ip("10.0.0.2"));
        assertThat(g.trackedCount()).as("no rate: an entry goes with its last connection").isZero();
    }

    @Test
    void ipv6AddressesCountPerSlash64() throws Exception {
        IpGate g = gate(IpLimits.builder().maxConnPerIp(1).build());
        assertThat(g.admit(ip("2001:db8::1"))).isNull();
        assertThat(g.admit(ip("2001:db8::ffff:2"))).isEqualTo(RejectReason.MAX_CONN_PER_IP);
        assertThat(g.admit(ip("2001:db8:0:1::1"))).isNull();
        assertThat(g.admit(ip("10.0.0.1"))).isNull();
        assertThat(IpGate.key(ip("10.0.0.1"))).isNotEqualTo(IpGate.key(ip("::a00:1")));
    }

    @Test
    void denyWinsOverAllowAndAnAllowListAdmitsOnlyItsNetworks() throws Exception {
        IpGate g = gate(IpLimits.builder().allow("10.0.0.0/8", "2001:db8::/32").deny("10.6.6.0/24").build());
        assertThat(g.admit(ip("10.1.2.3"))).isNull();
        assertThat(g.admit(ip("10.6.6.6"))).isEqualTo(RejectReason.DENIED);
        assertThat(g.admit(ip("192.0.2.1"))).isEqualTo(RejectReason.DENIED);
        assertThat(g.admit(ip("2001:db8::1"))).isNull();
        assertThat(g.admit(ip("2001:db9::1"))).isEqualTo(RejectReason.DENIED);
        assertThat(g.tracks()).isFalse();
        assertThat(g.trackedCount()).isZero();
    }

    @Test
    void theTableIsBoundedAndExpiredEntriesMakeRoom() throws Exception {
        IpGate g = gate(IpLimits.builder().connectionsPerSecondPerIp(1).maxTrackedIps(3).build());
        for (int i = 1; i <= 3; i++) {
            InetAddress a = ip("10.0.0." + i);
            assertThat(g.admit(a)).isNull();
            g.release(a); // bucket not yet refilled: the entry stays
        }
        assertThat(g.trackedCount()).isEqualTo(3);
        assertThat(g.admit(ip("10.0.0.4"))).isEqualTo(RejectReason.IP_TABLE_FULL);
        assertThat(g.admit(ip("10.0.0.1"))).as("addresses in the table go on as before").isEqualTo(RejectReason.RATE_PER_IP);
        advanceMillis(1000); // every bucket full again: the entries have expired
        assertThat(g.admit(ip("10.0.0.4"))).as("the full table is swept first").isNull();
        assertThat(g.trackedCount()).isEqualTo(1);
        advanceMillis(1000);
        g.release(ip("10.0.0.4"));
        assertThat(g.trackedCount()).isZero();
    }

    @Test
    void aSweepRemovesOnlyExpiredEntriesWithoutConnections() throws Exception {
        IpGate g = gate(IpLimits.builder().connectionsPerSecondPerIp(1).build());
        InetAddress held = ip("10.0.0.1");
        InetAddress gone = ip("10.0.0.2");
        assertThat(g.admit(held)).isNull();
        assertThat(g.admit(gone)).isNull();
        g.release(gone);
        assertThat(g.sweepNow(now.get())).as("not refilled yet").isEqualTo(2);
        advanceMillis(1000);
        assertThat(g.sweepNow(now.get())).as("the held one stays").isEqualTo(1);
        g.release(held);
        assertThat(g.trackedCount()).isZero();
    }

    @RepeatedTest(3)
    void concurrentAdmitsNeverOverfillTheTableAndEveryReleaseBalances() throws Exception {
        int max = 50;
        IpGate g = new IpGate(IpLimits.builder().maxConnPerIp(3).maxTrackedIps(max).build(), null, System::nanoTime);
        AtomicInteger highest = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            int seed = t;
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    go.await();
                    for (int i = 0; i < 5000; i++) {
                        InetAddress a = InetAddress.getByAddress(new byte[] {10, 0, (byte) seed, (byte) (i % 200)});
                        if (g.admit(a) == null) {
                            highest.accumulateAndGet(g.trackedCount(), Math::max);
                            g.release(a);
                        }
                    }
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }));
        }
        go.countDown();
        for (Thread t : threads) {
            t.join();
        }
        assertThat(highest.get()).isLessThanOrEqualTo(max);
        assertThat(g.trackedCount()).isZero();
    }
}
