package io.stcp;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * A snapshot of one server's counters ({@link TcpServer#stats()}): what a dashboard shows. Counts
 * are totals since the server started, over the connections that have ended and those still live;
 * {@code connections}, {@code queuedMessages} and {@code queuedBytes} are the state now. Taking
 * a snapshot walks the live connections (cheap, but not free: take it per scrape, not per message).
 * Each connection is in a snapshot once, live or ended, never missing: a total never reads lower
 * than in an earlier snapshot, and the connections that ended ({@code closed}) are never more
 * than those {@code accepted}. Live connections are read one after another, not at one instant.
 *
 * <p>The counting itself costs the connections nothing on their hot path: each keeps plain counts
 * of its own, which the server adds up here and when a connection ends.
 *
 * @param connections live connections now
 * @param accepted connections accepted and run
 * @param rejected connections refused at accept, by reason ({@code maxConn}, ...), ordered by reason
 * @param closed connections that ended, by {@link CloseReason}, in its order: those counted in
 *               {@code accepted}, each once; a proxy's health checks and the connections refused
 *               ({@code rejected}) are not among them
 * @param acceptErrors failed accept calls (EMFILE, ...)
 * @param bytesIn bytes the readers consumed
 * @param bytesOut bytes written to the peers
 * @param messagesIn reader calls that returned (messages read, for a reader that reads one per call)
 * @param messagesOut messages written by stcp's senders ({@link QueueSender})
 * @param queuedMessages messages waiting in stcp's senders now
 * @param queuedBytes bytes waiting in stcp's senders now, as their byte limits count them (a
 *     conflating sender's String keys included)
 * @param conflated keyed messages replaced by a newer value before being written
 * @param dropped messages dropped by {@link OverflowPolicy#DROP_OLDEST}
 * @param discarded accepted messages that were never written (closed, reset, slow consumer)
 * @param rejectedPuts puts refused because a queue was full
 * @param tlsHandshakes TLS handshakes completed; 0 without TLS. Counted by the server's
 *                      {@link TlsConfig} ({@link TlsConfig#handshakes()}): servers that share one
 *                      config share its counts
 * @param tlsHandshakeFailures TLS handshakes that failed (bad certificate, no common protocol,
 *                      plain text on the TLS port, too slow); 0 without TLS
 * @param healthChecks a proxy's health checks seen ({@link TcpServer#healthCheckCount()}): neither
 *                     accepted nor ended; 0 without the PROXY protocol
 */
public record ServerStats(
        int connections,
        long accepted,
        Map<String, Long> rejected,
        Map<CloseReason, Long> closed,
        long acceptErrors,
        long bytesIn,
        long bytesOut,
        long messagesIn,
        long messagesOut,
        long queuedMessages,
        long queuedBytes,
        long conflated,
        long dropped,
        long discarded,
        long rejectedPuts,
        long tlsHandshakes,
        long tlsHandshakeFailures,
        long healthChecks) {

    /**
     * Copies the maps: a snapshot does not change. Each keeps one order, whatever the order given,
     * so that two snapshots print alike: {@code rejected} by reason's name, {@code closed} in
     * {@link CloseReason}'s order. No key or value may be null.
     */
    public ServerStats {
        rejected = Collections.unmodifiableMap(new TreeMap<>(Map.copyOf(rejected)));
        closed = byReason(closed);
    }

    /**
     * A snapshot without {@code healthChecks} (0): the components as they were before it was
     * added, so that code that makes snapshots (a test's, a bridge's) compiles as it did.
     */
    public ServerStats(int connections, long accepted, Map<String, Long> rejected, Map<CloseReason, Long> closed,
                       long acceptErrors, long bytesIn, long bytesOut, long messagesIn, long messagesOut,
                       long queuedMessages, long queuedBytes, long conflated, long dropped, long discarded,
                       long rejectedPuts, long tlsHandshakes, long tlsHandshakeFailures) {
        this(connections, accepted, rejected, closed, acceptErrors, bytesIn, bytesOut, messagesIn, messagesOut,
                queuedMessages, queuedBytes, conflated, dropped, discarded, rejectedPuts, tlsHandshakes,
                tlsHandshakeFailures, 0);
    }

    private static Map<CloseReason, Long> byReason(Map<CloseReason, Long> closed) {
        EnumMap<CloseReason, Long> m = new EnumMap<>(CloseReason.class);
        m.putAll(Map.copyOf(closed)); // Map.copyOf refuses a null key or value
        return Collections.unmodifiableMap(m);
    }

    /** Connections refused at accept, for every reason. */
    public long rejectedTotal() {
        return rejected.values().stream().mapToLong(Long::longValue).sum();
    }

    /** Connections that ended with {@code reason}. */
    public long closed(CloseReason reason) {
        return closed.getOrDefault(reason, 0L);
    }
}
