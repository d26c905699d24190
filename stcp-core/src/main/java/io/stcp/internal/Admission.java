package io.stcp.internal;

import io.stcp.ProxyProtocol;
import io.stcp.RejectReason;
import io.stcp.ServerConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * Which sockets a {@link RealTcpServer} accepts become connections, and how many may be live at
 * once; with the counts of those accepted, refused and health-checked.
 *
 * <p><b>Order</b>, on the accept thread, before anything is spent on a connection
 * ({@link #admit}): a peer outside the trusted proxies where a PROXY header is required is
 * refused; then, unless the peer is a trusted proxy (whose clients are known only after the
 * header: {@link ProxyProtocolLayer} applies the per-address limits then, on the connection's
 * thread, through {@link #admitClient}), the {@link IpGate}; then the slot. A connection admitted
 * by the gate remembers its address ({@link RealConnection#limitedAddress}) and gives it back
 * after its exit hooks, with its slot ({@link #release}). The table outlives {@link #close}: while
 * the server drains, its connections still count, and a PROXY header read then still meets the
 * limits; it is forgotten once the server is closed and no slot is taken ({@link #forgetIfDone}).
 *
 * <p><b>Slots.</b> {@link #live} is taken with a compare-and-set that refuses to go past
 * {@code maxConn}, so the count never reads above the limit, not even for a moment; each
 * connection gives its slot back after its exit hooks, and one that never started gives it back
 * at once ({@link #abandon}).
 *
 * <p><b>Thread safety.</b> {@link #open} runs before the accept thread starts, {@link #close}
 * under the server's lock; everything else is safe from any thread.
 */
final class Admission implements ProxyProtocolLayer.Server {
    private final ServerConfig config;
    private final List<Cidr> trustedProxies;
    private final LongSupplier nanoClock;
    private final StatsCounters stats;
    private final Rejections rejections;
    private IpGate gate; // set by open(), before the accept thread starts; null: no limits
    private volatile boolean closed;

    private final AtomicInteger live = new AtomicInteger();
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong healthChecks = new AtomicLong();

    /**
     * @param stats where refusals are counted too, by {@link RejectReason#key()}
     * @param nanoClock the clock of the rate-limited {@code server.reject} lines and the per-address rates
     */
    Admission(ServerConfig config, StatsCounters stats, LongSupplier nanoClock) {
        this.config = config;
        this.trustedProxies = Cidr.parseAll(config.proxyProtocol().trustedProxies());
        this.nanoClock = nanoClock;
        this.stats = stats;
        this.rejections = new Rejections(config.maxConn(), nanoClock);
    }

    /** Makes the per-address table if {@link ServerConfig#ipLimits()} asks for one; before the accept thread starts. */
    void open(Sweeper sweeper) {
        gate = config.ipLimits().isEnabled() ? new IpGate(config.ipLimits(), sweeper, nanoClock) : null;
    }

    /**
     * The server has stopped listening. The per-address table stays while connections are live
     * (they still count, and give their addresses back), and goes with the last one.
     */
    void close() {
        closed = true;
        forgetIfDone();
    }

    /**
     * Forgets the per-address table once the server is closed and no slot is taken: nothing can
     * be admitted any more. {@link #close} sets {@link #closed} before it reads {@link #live}, and
     * {@link #release} changes {@code live} before it reads {@code closed}, so one of them sees both.
     */
    private void forgetIfDone() {
        if (closed && live.get() == 0 && gate != null) {
            gate.close();
        }
    }

    /** An admitted socket: its peer's address if the per-address limits hold it ({@link #release}), else null. */
    record Admitted(InetAddress limited) {}

    /**
     * Admits {@code channel}'s peer and takes it a slot, or refuses it; runs on the accept thread.
     *
     * @return the admission, whose slot is the caller's to hand to a connection or {@link #abandon};
     *     null if the peer was refused (counted, logged rate-limited, and closed) or had gone already
     */
    Admitted admit(SocketChannel channel) {
        SocketAddress peer;
        try {
            peer = channel.getRemoteAddress();
        } catch (IOException e) {
            closeQuietly(channel); // gone already
            return null;
        }
        InetAddress ip = peer instanceof InetSocketAddress inet ? inet.getAddress() : null;
        boolean viaProxy = config.proxyProtocol().isEnabled() && ProxyProtocolLayer.trusts(trustedProxies, peer);
        if (config.proxyProtocol().mode() == ProxyProtocol.Mode.REQUIRED && !viaProxy) {
            reject(channel, RejectReason.PROXY_UNTRUSTED, peer);
            return null;
        }
        InetAddress limited = null;
        if (gate != null && ip != null && !viaProxy) {
            RejectReason r = gate.admit(ip);
            if (r != null) {
                reject(channel, r, peer);
                return null;
            }
            limited = gate.tracks() ? ip : null;
        }
        if (!takeSlot()) {
            if (limited != null) {
                gate.release(limited);
            }
            reject(channel, RejectReason.MAX_CONN, peer);
            return null;
        }
        return new Admitted(limited);
    }

    /** Takes a connection slot unless {@code maxConn} connections are live. */
    private boolean takeSlot() {
        int max = config.effectiveMaxConn();
        for (int n = live.get(); n < max; n = live.get()) {
            if (live.compareAndSet(n, n + 1)) {
                return true;
            }
        }
        return false;
    }

    /** Gives back a connection's slot and, if the per-address limits hold it, its address. */
    void release(InetAddress limited) {
        if (limited != null) {
            gate.release(limited);
        }
        live.decrementAndGet();
        forgetIfDone();
    }

    /** The connection of an admitted socket never started: closes the socket and gives back what it held. */
    void abandon(SocketChannel channel, Admitted admitted) {
        closeQuietly(channel);
        release(admitted.limited());
    }

    /** Counts, logs (rate-limited) and closes; the close comes last, so a peer that sees it sees both done. */
    private void reject(SocketChannel channel, RejectReason reason, SocketAddress peer) {
        rejected(reason, peer, null);
        closeQuietly(channel);
    }

    // ---------------------------------------------------------------- what the PROXY layer reports (connection threads)

    @Override
    public RejectReason admitClient(RealConnection connection, InetAddress client) {
        if (gate != null && client != null) {
            RejectReason r = gate.admit(client);
            if (r != null) {
                rejected(r, connection.remoteAddress(), null);
                return r;
            }
            if (gate.tracks()) {
                connection.limitedAddress = client;
            }
        }
        markAccepted(connection);
        return null;
    }

    @Override
    public RejectReason admitUnknownClient(RealConnection connection) {
        if (gate != null && gate.admitsListedOnly()) {
            rejected(RejectReason.DENIED, connection.remoteAddress(), "the PROXY header names no IP address, and only"
                    + " the allow list's networks are served");
            return RejectReason.DENIED;
        }
        markAccepted(connection);
        return null;
    }

    @Override
    public void healthCheck() {
        healthChecks.incrementAndGet();
    }

    /** Counts a refusal (in {@link #rejections} and the stats, by {@link RejectReason#key()}) and logs it, rate-limited. */
    @Override
    public void rejected(RejectReason reason, SocketAddress remote, String detail) {
        stats.rejected(reason.key());
        rejections.reject(reason, remote, detail);
    }

    // ---------------------------------------------------------------- counts

    /**
     * Counts a connection that is open, about to start, as accepted; with a PROXY layer, which
     * counts a connection once its header shows a client ({@link #admitClient}), does nothing.
     */
    void countAccepted(RealConnection connection) {
        if (!config.proxyProtocol().isEnabled()) {
            markAccepted(connection);
        }
    }

    /**
     * Counts {@code connection} accepted; it is marked so, which its end is counted by
     * ({@link RealConnection#accepted}): the two counts balance. Never taken back (a snapshot may
     * have seen it): a connection that cannot start once open (its thread, out of memory) is
     * counted ended, FAILED.
     */
    private void markAccepted(RealConnection connection) {
        connection.accepted = true;
        accepted.incrementAndGet();
    }

    int liveCount() {
        return live.get();
    }

    long acceptedCount() {
        return accepted.get();
    }

    long healthCheckCount() {
        return healthChecks.get();
    }

    long rejectedCount() {
        return rejections.total();
    }

    long rejectedCount(RejectReason reason) {
        return rejections.count(reason);
    }

    /** Addresses in the per-address table now (0 without one). */
    int trackedAddressCount() {
        IpGate g = gate;
        return g == null ? 0 : g.trackedCount();
    }

    /** Closes {@code channel}; never throws, so that the slot and the address are given back after it. */
    private static void closeQuietly(SocketChannel channel) {
        Quietly.close(channel, "socket");
    }
}
