package io.stcp.micrometer;

import io.stcp.ServerStats;
import java.util.BitSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The {@link ServerStats} the meters read: one snapshot per scrape, not one per meter.
 *
 * <p>A registry reads each meter once per scrape (or publish), and there is no hook that says a
 * scrape begins. So each meter has an index, and a snapshot serves each index once: the first
 * read of any meter that has already read the current snapshot means a new scrape has begun, and
 * takes a new one. A scrape of N meters thus costs one snapshot, and never reads one older than
 * the scrape itself. A snapshot older than {@link #MAX_AGE_NANOS} is replaced too, so a meter
 * read on its own after a while (one registered later, a registry that reads some meters only)
 * never sees old numbers either. Two registries scraping at once take a few more snapshots; their
 * values are right all the same.
 *
 * <p><b>Thread safety.</b> {@link #read} may be called from any thread; {@link #lock} guards the
 * current snapshot, which the source is asked for under it (the source must not call back here).
 */
final class Snapshots {
    /** A snapshot older than this is never served: 1 s. */
    static final long MAX_AGE_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final Supplier<ServerStats> source;
    private final LongSupplier nanoClock;
    private final Consumer<ServerStats> onSnapshot;
    private final ReentrantLock lock = new ReentrantLock();
    private ServerStats current;                 // guarded by lock
    private long takenNanos;                     // guarded by lock
    private final BitSet served = new BitSet();  // guarded by lock: meters that have read current

    /** @param onSnapshot called with each new snapshot, outside the lock (it may register meters) */
    Snapshots(Supplier<ServerStats> source, LongSupplier nanoClock, Consumer<ServerStats> onSnapshot) {
        this.source = source;
        this.nanoClock = nanoClock;
        this.onSnapshot = onSnapshot;
    }

    /** The snapshot for meter {@code meter}: the current one, unless that meter has read it already or it is too old. */
    ServerStats read(int meter) {
        ServerStats s;
        boolean taken = false;
        lock.lock();
        try {
            long now = nanoClock.getAsLong();
            if (current == null || served.get(meter) || now - takenNanos > MAX_AGE_NANOS) {
                current = source.get();
                takenNanos = now;
                served.clear();
                taken = true;
            }
            served.set(meter);
            s = current;
        } finally {
            lock.unlock();
        }
        if (taken) {
            onSnapshot.accept(s);
        }
        return s;
    }

    /** A new snapshot, for a look outside a scrape: no meter reads it. */
    ServerStats take() {
        return source.get();
    }
}
