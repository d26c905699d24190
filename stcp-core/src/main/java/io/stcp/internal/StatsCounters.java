package io.stcp.internal;

import io.stcp.CloseReason;
import io.stcp.QueueSender;
import io.stcp.Sender;
import io.stcp.ServerStats;
import java.util.EnumMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;

/**
 * A server's counters behind {@link ServerStats}. Events of the server itself (rejects, accept
 * errors, ends) are counted here as they happen; what each connection counts of its own (bytes,
 * reader calls, its sender's counts) is added here once, when it ends, and a snapshot adds the
 * live connections' current counts to these totals.
 */
final class StatsCounters {
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

    /** A connection has ended: its reason, and its own counts into the totals. */
    void ended(RealConnectionRunner runner, CloseReason reason) {
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

    ServerStats snapshot(int connections, long accepted, long acceptErrors, Iterable<RealConnectionRunner> live,
                         io.stcp.@Nullable TlsConfig tls) {
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
        return new ServerStats(connections, accepted, rejects, ends, acceptErrors, in, out, calls, written,
                queued, queuedBytes, conf, drop, disc, rej, tls == null ? 0 : tls.handshakes(),
                tls == null ? 0 : tls.handshakeFailures());
    }
}
