package io.stcp.internal;

import io.stcp.CloseReason;
import io.stcp.QueueSender;
import io.stcp.Sender;
import io.stcp.ServerStats;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * A server's counters behind {@link ServerStats}. Events of the server itself (rejects, accept
 * errors, ends) are counted here as they happen; what each connection counts of its own (bytes,
 * reader calls, its sender's counts) is added here once, when it ends, and a snapshot adds the
 * live connections' current counts to these totals.
 *
 * <p><b>Consistency.</b> A connection's counts are in the live set or in the totals, never both
 * and never neither: its end ({@link #ended}) takes it out of the live set and adds its counts to
 * the totals in one step, which a snapshot cannot see half done ({@link #folding}: ends share the
 * read lock, a snapshot takes the write lock). Each connection's own counts only grow, so every
 * total of a snapshot is at least that of any snapshot taken before it; and a snapshot reads the
 * ends before the connections accepted, so it never shows more ended than accepted. (Read at
 * different moments, a connection ending in between was in neither: the totals dipped, and
 * {@code shutdown()} took a connection discarding before it for one discarding during it.)
 *
 * <p><b>Cost.</b> A snapshot holds the ends back while it walks the live connections; an end
 * waits for no other end, and no connection waits here on its path of reads and writes.
 */
final class StatsCounters {
    private final ReentrantReadWriteLock folding = new ReentrantReadWriteLock();
    private final Map<String, LongAdder> rejected = new ConcurrentHashMap<>();
    private final Map<CloseReason, LongAdder> closed = new EnumMap<>(CloseReason.class);
    // Totals of the connections that have ended.
    private final LongAdder bytesIn = new LongAdder();
    private final LongAdder bytesOut = new LongAdder();
    private final LongAdder messagesIn = new LongAdder();
    private final LongAdder messagesOut = new LongAdder();
    private final LongAdder conflated = new LongAdder();
    private final LongAdder dropped = new LongAdder();
    private final LongAdder discarded = new LongAdder();
    private final LongAdder rejectedPuts = new LongAdder();

    StatsCounters() {
        for (CloseReason r : CloseReason.values()) {
            closed.put(r, new LongAdder());
        }
    }

    void rejected(String reason) {
        rejected.computeIfAbsent(reason, r -> new LongAdder()).increment();
    }

    /**
     * A connection has ended: takes it out of {@code live} and, if it was there and is
     * {@code counted} (accepted: see {@link Admission}), counts its reason and adds its own counts
     * to the totals, in one step for the snapshots.
     *
     * @return whether it was in {@code live}
     */
    boolean ended(Set<RealConnectionRunner> live, RealConnectionRunner runner, CloseReason reason, boolean counted) {
        folding.readLock().lock();
        try {
            if (!live.remove(runner)) {
                return false;
            }
            if (counted) {
                fold(runner, reason);
            }
            return true;
        } finally {
            folding.readLock().unlock();
        }
    }

    /**
     * A connection that ended before it was in the live set (its runner not made or not put there:
     * out of memory before its thread could start): counts its reason if it is {@code counted}. It
     * read, wrote and ran nothing, so it has no counts of its own to add, and the one count needs
     * no step against the snapshots.
     */
    void endedBeforeListed(CloseReason reason, boolean counted) {
        if (counted) {
            closed.get(reason).increment();
        }
    }

    private void fold(RealConnectionRunner runner, CloseReason reason) {
        closed.get(reason).increment();
        bytesIn.add(runner.connection().bytesRead());
        bytesOut.add(runner.realConnection().bytesWritten());
        messagesIn.add(runner.readerCalls());
        if (runner.sender() instanceof QueueSender q) {
            QueueSender.Stats s = q.stats();
            messagesOut.add(s.written());
            conflated.add(s.conflated());
            dropped.add(s.dropped());
            discarded.add(s.discarded());
            rejectedPuts.add(s.rejected());
        }
    }

    /**
     * A snapshot: the totals, and the live connections' counts added, in one step against the ends
     * (see the class comment); the ends are read before {@code accepted}.
     */
    ServerStats snapshot(IntSupplier connections, LongSupplier accepted, long acceptErrors, long healthChecks,
                         Iterable<RealConnectionRunner> live, io.stcp.@Nullable TlsConfig tls) {
        folding.writeLock().lock();
        try {
            return sum(connections, accepted, acceptErrors, healthChecks, live, tls);
        } finally {
            folding.writeLock().unlock();
        }
    }

    private ServerStats sum(IntSupplier connections, LongSupplier accepted, long acceptErrors, long healthChecks,
                            Iterable<RealConnectionRunner> live, io.stcp.@Nullable TlsConfig tls) {
        long in = bytesIn.sum();
        long out = bytesOut.sum();
        long calls = messagesIn.sum();
        long written = messagesOut.sum();
        long queued = 0;
        long queuedBytes = 0;
        long conf = conflated.sum();
        long drop = dropped.sum();
        long disc = discarded.sum();
        long rej = rejectedPuts.sum();
        for (RealConnectionRunner runner : live) {
            in += runner.connection().bytesRead();
            out += runner.realConnection().bytesWritten();
            calls += runner.readerCalls();
            Sender sender = runner.sender();
            if (sender instanceof QueueSender q) {
                QueueSender.Stats s = q.stats();
                written += s.written();
                queued += s.pendingMessages();
                queuedBytes += s.pendingBytes();
                conf += s.conflated();
                drop += s.dropped();
                disc += s.discarded();
                rej += s.rejected();
            }
        }
        Map<String, Long> rejects = new TreeMap<>();
        rejected.forEach((reason, n) -> rejects.put(reason, n.sum()));
        Map<CloseReason, Long> ends = new EnumMap<>(CloseReason.class);
        closed.forEach((reason, n) -> ends.put(reason, n.sum()));
        // after the ends: each connection counted ended was accepted before
        return new ServerStats(connections.getAsInt(), accepted.getAsLong(), rejects, ends, acceptErrors, in, out,
                calls, written, queued, queuedBytes, conf, drop, disc, rej, tls == null ? 0 : tls.handshakes(),
                tls == null ? 0 : tls.handshakeFailures(), healthChecks);
    }
}
