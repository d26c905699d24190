package io.stcp.internal;

import io.stcp.IpLimits;
import io.stcp.RejectReason;
import java.net.InetAddress;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * The per-address limits of {@link IpLimits}: deny and allow lists, concurrent connections and a
 * connection rate per address, over a bounded table of addresses.
 *
 * <p><b>Table.</b> One {@link Entry} per address key ({@link #key}: an IPv4 address, or an IPv6
 * /64), created by the first {@link #admit} and changed only inside the map's
 * {@code compute}/{@code computeIfPresent} for its key, which serialize all access to it. An entry
 * holds the address's live connections and its rate state. It is removed — by {@link #release}
 * of its last connection, or by a sweep — once it has no live connection and its bucket has
 * refilled, when it is indistinguishable from no entry at all. {@link #size} counts entries; an
 * insert reserves a place in it first (never past {@code maxTracked}), a removal gives it back,
 * so the table never holds more than {@code maxTracked} entries, even with inserts from several
 * threads (proxied connections are admitted on their own threads).
 *
 * <p><b>Rate.</b> A token bucket in its GCRA form: {@link Entry#tat} is the theoretical arrival
 * time of the next connection; one arriving at {@code now} passes when {@code tat - now} is at
 * most the tolerance {@code (burst - 1) * interval}, and moves {@code tat} to
 * {@code max(tat, now) + interval}. The bucket is full (the entry can go) once {@code tat <= now}.
 *
 * <p><b>Sweeps.</b> While the table has entries, a task on the server's {@link Sweeper} removes
 * expired ones about once a second; when the table is full, {@link #admit} sweeps first (at most
 * every {@value #FULL_SWEEP_MILLIS} ms). A sweep walks the whole table: a few milliseconds for the
 * largest table by default.
 */
final class IpGate {
    static final long SWEEP_NANOS = TimeUnit.SECONDS.toNanos(1);
    static final long FULL_SWEEP_MILLIS = 100;
    private static final long SWEEP_TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(250);

    private final List<Cidr> allow;
    private final List<Cidr> deny;
    private final int maxConnPerIp;
    private final long intervalNanos;   // 0: no rate limit
    private final long toleranceNanos;
    private final int maxTracked;
    private final boolean tracks;
    private final LongSupplier nanoClock;
    private final Sweeper sweeper;

    private final ConcurrentHashMap<Long, Entry> table = new ConcurrentHashMap<>();
    private final AtomicInteger size = new AtomicInteger();
    private final AtomicBoolean sweeping = new AtomicBoolean(); // a sweep task is registered
    private volatile boolean closed;
    private volatile long lastSweepNanos;

    /** One address's state; guarded by the map's per-key lock (touched only inside compute). */
    private static final class Entry {
        int live;
        long tat;
    }

    /** @param sweeper runs the periodic sweep, or null (tests sweep by hand) */
    IpGate(IpLimits limits, Sweeper sweeper, LongSupplier nanoClock) {
        this.allow = Cidr.parseAll(limits.allow());
        this.deny = Cidr.parseAll(limits.deny());
        this.maxConnPerIp = limits.maxConnPerIp();
        double rate = limits.connectionsPerSecondPerIp();
        // However small the rate, the tolerance stays within FOREVER (the interval is cut to fit, decades
        // still): it and its sums with a clock reading must not overflow.
        long beyondFirst = limits.effectiveBurstPerIp() - 1L;
        this.intervalNanos = rate > 0
                ? Math.max(1, Math.min(Nanos.FOREVER / Math.max(1, beyondFirst), (long) (1e9 / rate))) : 0;
        this.toleranceNanos = rate > 0 ? beyondFirst * intervalNanos : 0;
        this.maxTracked = limits.maxTrackedIps();
        this.tracks = limits.tracksAddresses();
        this.sweeper = sweeper;
        this.nanoClock = nanoClock;
        this.lastSweepNanos = nanoClock.getAsLong();
    }

    /** The table key of {@code address}: an IPv4 address whole, an IPv6 address by its /64. */
    static long key(InetAddress address) {
        byte[] b = address.getAddress();
        if (b.length == 4) {
            // Tagged with ffff:ffff in the upper half, where only IPv6 multicast (never a TCP peer) could be.
            return 0xFFFF_FFFF_0000_0000L | ((b[0] & 0xFFL) << 24) | ((b[1] & 0xFF) << 16) | ((b[2] & 0xFF) << 8) | (b[3] & 0xFF);
        }
        long k = 0;
        for (int i = 0; i < 8; i++) {
            k = (k << 8) | (b[i] & 0xFF);
        }
        return k;
    }

    /** Whether there is an allow list: only addresses in its networks are admitted, so none of unknown address. */
    boolean admitsListedOnly() {
        return !allow.isEmpty();
    }

    /** Whether admitted addresses must be {@link #release}d (a count or a rate is limited). */
    boolean tracks() {
        return tracks;
    }

    /**
     * Decides whether a connection from {@code address} may start now, and if so counts it.
     *
     * @return null if admitted (then, if {@link #tracks()}, {@link #release} it when it ends),
     *     else why not
     */
    RejectReason admit(InetAddress address) {
        if (Cidr.anyContains(deny, address) || (!allow.isEmpty() && !Cidr.anyContains(allow, address))) {
            return RejectReason.DENIED;
        }
        if (!tracks) {
            return null;
        }
        long now = nanoClock.getAsLong();
        if (size.get() >= maxTracked && now - lastSweepNanos >= TimeUnit.MILLISECONDS.toNanos(FULL_SWEEP_MILLIS)) {
            sweepNow(now);
        }
        RejectReason[] verdict = new RejectReason[1];
        boolean[] inserted = new boolean[1];
        table.compute(key(address), (k, e) -> {
            if (e == null) {
                if (!reserve()) {
                    verdict[0] = RejectReason.IP_TABLE_FULL;
                    return null;
                }
                inserted[0] = true;
                e = new Entry();
                e.tat = now;
            }
            if (intervalNanos > 0) {
                long tat = e.tat - now > 0 ? e.tat : now;
                if (tat - now > toleranceNanos) {
                    verdict[0] = RejectReason.RATE_PER_IP;
                    return e;
                }
                e.tat = tat + intervalNanos;
            }
            if (maxConnPerIp > 0 && e.live >= maxConnPerIp) {
                verdict[0] = RejectReason.MAX_CONN_PER_IP;
                return e;
            }
            e.live++;
            return e;
        });
        if (inserted[0]) {
            scheduleSweeps();
        }
        return verdict[0];
    }

    /** A connection admitted from {@code address} has ended. */
    void release(InetAddress address) {
        long now = nanoClock.getAsLong();
        table.computeIfPresent(key(address), (k, e) -> {
            e.live--;
            return removable(e, now) ? removed() : e;
        });
    }

    /** Entries in the table now. */
    int trackedCount() {
        return size.get();
    }

    /** Forgets every address and stops the sweeps: the server has closed, and its last connection has gone. */
    void close() {
        closed = true;
        for (Long k : table.keySet()) {
            table.computeIfPresent(k, (key, e) -> removed());
        }
    }

    /** Removes the expired entries; returns how many are left. */
    int sweepNow(long now) {
        lastSweepNanos = now;
        for (Long k : table.keySet()) {
            table.computeIfPresent(k, (key, e) -> removable(e, now) ? removed() : e);
        }
        return size.get();
    }

    /** The sweeper's task: about once a second while there are entries; ends when the table is empty. */
    private boolean sweep(long nowNanos) {
        if (closed) {
            sweeping.set(false);
            return false;
        }
        long now = nanoClock.getAsLong();
        if (now - lastSweepNanos >= SWEEP_NANOS) {
            sweepNow(now);
        }
        if (size.get() > 0) {
            return true;
        }
        // Stop; an insert that raced with this sees sweeping false and registers the task again.
        sweeping.set(false);
        return size.get() > 0 && sweeping.compareAndSet(false, true);
    }

    private void scheduleSweeps() {
        if (sweeper != null && !closed && !sweeping.get() && sweeping.compareAndSet(false, true)) {
            // A task of its own each time: the one that is stopping may still be in the sweeper's
            // set, and adding it again would do nothing (the table would never be swept again).
            sweeper.add(Sweeper.every(SWEEP_TICK_NANOS, this::sweep));
        }
    }

    private boolean reserve() {
        for (int n = size.get(); n < maxTracked; n = size.get()) {
            if (size.compareAndSet(n, n + 1)) {
                return true;
            }
        }
        return false;
    }

    private Entry removed() {
        size.decrementAndGet();
        return null;
    }

    private boolean removable(Entry e, long now) {
        return e.live <= 0 && (intervalNanos == 0 || e.tat - now <= 0);
    }
}
