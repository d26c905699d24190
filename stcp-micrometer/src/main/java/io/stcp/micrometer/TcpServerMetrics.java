package io.stcp.micrometer;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.BaseUnits;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.stcp.CloseReason;
import io.stcp.RejectReason;
import io.stcp.ServerStats;
import io.stcp.TcpServer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.function.ToLongFunction;

/**
 * Micrometer meters for one {@link TcpServer}: everything {@link TcpServer#stats()} counts, under
 * stable names, each tagged {@value #SERVER_TAG}{@code =<name>} (plus the tags given here).
 *
 * <pre>{@code
 * new TcpServerMetrics(server, "gateway").bindTo(registry);
 * }</pre>
 *
 * <table>
 *   <caption>Meters (Prometheus names in brackets)</caption>
 *   <tr><th>name</th><th>type</th><th>what</th></tr>
 *   <tr><td>{@code stcp.connections.active}</td><td>gauge</td><td>live connections [{@code stcp_connections_active}]</td></tr>
 *   <tr><td>{@code stcp.connections.accepted}</td><td>counter</td><td>connections accepted and run [{@code stcp_connections_accepted_total}]</td></tr>
 *   <tr><td>{@code stcp.connections.rejected}</td><td>counter, tag {@code reason}</td><td>connections refused at accept, by {@link RejectReason#key()} ({@code maxConn}, {@code ratePerIp}, ...)</td></tr>
 *   <tr><td>{@code stcp.connections.closed}</td><td>counter, tag {@code reason}</td><td>connections ended, by {@link CloseReason} name ({@code WRITE_TIMEOUT}, {@code SLOW_CONSUMER}, ...)</td></tr>
 *   <tr><td>{@code stcp.health.checks}</td><td>counter</td><td>a proxy's health checks ({@link TcpServer#healthCheckCount()}): neither accepted nor closed [{@code stcp_health_checks_total}]</td></tr>
 *   <tr><td>{@code stcp.accept.errors}</td><td>counter</td><td>failed accept calls (EMFILE, ...)</td></tr>
 *   <tr><td>{@code stcp.received.bytes}</td><td>counter, bytes</td><td>bytes the readers consumed [{@code stcp_received_bytes_total}]</td></tr>
 *   <tr><td>{@code stcp.sent.bytes}</td><td>counter, bytes</td><td>bytes written to the peers</td></tr>
 *   <tr><td>{@code stcp.received.messages}</td><td>counter</td><td>reader calls that returned (messages, for a reader that reads one per call)</td></tr>
 *   <tr><td>{@code stcp.sent.messages}</td><td>counter</td><td>messages written by {@code QueueSender}s</td></tr>
 *   <tr><td>{@code stcp.queue.messages}</td><td>gauge</td><td>messages waiting in send queues now</td></tr>
 *   <tr><td>{@code stcp.queue.bytes}</td><td>gauge, bytes</td><td>bytes waiting in send queues now</td></tr>
 *   <tr><td>{@code stcp.queue.conflated}</td><td>counter</td><td>keyed messages replaced by a newer value before being written</td></tr>
 *   <tr><td>{@code stcp.queue.dropped}</td><td>counter</td><td>messages dropped by {@code DROP_OLDEST}</td></tr>
 *   <tr><td>{@code stcp.queue.discarded}</td><td>counter</td><td>accepted messages never written (closed, reset, slow consumer)</td></tr>
 *   <tr><td>{@code stcp.queue.rejected}</td><td>counter</td><td>puts refused because a queue was full</td></tr>
 *   <tr><td>{@code stcp.tls.handshakes}</td><td>counter, tag {@code result} ({@code ok}, {@code failed})</td><td>TLS handshakes (0 without TLS); counted by the server's {@code TlsConfig}, so servers sharing one report the same shared total</td></tr>
 * </table>
 *
 * <p>Totals are {@link FunctionCounter}s read from the snapshot, state is {@link Gauge}s. Sizes are
 * in bytes (the base unit); counts have no unit, so that Prometheus names read as above rather
 * than {@code ..._connections_total}. Every {@link CloseReason} has its series from the start (at
 * 0), and so has every {@link RejectReason} ({@link RejectReason#key()}): a series that appeared
 * with its first count would not show that count as an increase to Prometheus' {@code rate()}. A
 * reason the core reports but this binder does not know has its series from the first scrape after
 * it first happened.
 *
 * <p><b>Cost.</b> Nothing on the connections' path: a scrape takes one {@link TcpServer#stats()}
 * snapshot (which walks the live connections) and every meter of that scrape reads it; see
 * {@code Snapshots}. Counters never go back: a snapshot's totals are never below an earlier one's
 * ({@link ServerStats}), and each counter reports the highest value it has read all the same, so
 * that Prometheus never sees a reset while the server lives.
 *
 * <p><b>Lifecycle.</b> The meters stay after the server has stopped, so that a last scrape sees
 * its final counts, and they hold the server (and this binder) for as long as the registry holds
 * them. {@link #close()} removes them from every registry. Bound before the server's
 * {@link TcpServer#start()}, they stay too when that start fails (its port in use, say): the
 * server has not run, but it is not closed either and may still be started, so they read 0 until
 * it is, and count it from then on. Close this binder when giving such a server up, or bind it
 * once {@code start()} has returned: a server that never ran then has no meters. A registry takes
 * one set of meters per name and tags: binding a second binder with the same name and tags to a
 * registry the first one is bound to and has not been closed — a server replaced by a new one,
 * whose metrics would otherwise go on reading the old — fails with {@link IllegalStateException};
 * close the first one, or use another name. The registry's common tags change nothing to this.
 *
 * <p><b>Thread safety.</b> {@link #bindTo} and {@link #close} may be called from any thread, for
 * any number of registries; the meters may be read from any thread.
 */
public final class TcpServerMetrics implements MeterBinder, AutoCloseable {
    /** The tag naming the server, whose value is the name given to the constructor. */
    public static final String SERVER_TAG = "server";
    /** The tag of {@code stcp.connections.rejected} and {@code stcp.connections.closed}. */
    public static final String REASON_TAG = "reason";

    /** The tags of the live binders bound to each registry (registries compare by identity); guarded by CLAIMS. */
    private static final Map<MeterRegistry, Set<Tags>> CLAIMED = new WeakHashMap<>();
    private static final ReentrantLock CLAIMS = new ReentrantLock();

    private final Snapshots snapshots;
    private final Tags tags;
    private final ReentrantLock lock = new ReentrantLock();
    private final List<MeterDef> defs = new ArrayList<>();                    // guarded by lock
    private final Set<String> rejectReasons = new HashSet<>();                // guarded by lock
    private final List<MeterRegistry> registries = new CopyOnWriteArrayList<>(); // added under lock
    private final Queue<Registered> registered = new ConcurrentLinkedQueue<>(); // every meter this binder made
    private volatile boolean closed;                                          // set under lock

    /** Meters for {@code server}, tagged {@code server=name}. */
    public TcpServerMetrics(TcpServer server, String name) {
        this(server, name, Tags.empty());
    }

    /**
     * Meters for {@code server}, tagged {@code server=name} and {@code tags}.
     *
     * @throws IllegalArgumentException if {@code name} is blank
     */
    public TcpServerMetrics(TcpServer server, String name, Iterable<Tag> tags) {
        this(Objects.requireNonNull(server, "server")::stats, name, tags, System::nanoTime);
    }

    /** A binder over any source of snapshots (a seam for tests). */
    TcpServerMetrics(Supplier<ServerStats> stats, String name, Iterable<Tag> tags, LongSupplier nanoClock) {
        Objects.requireNonNull(name, "name");
        if (name.isBlank()) {
            throw new IllegalArgumentException("name: \"" + name + "\" (expected: a non-blank server name)");
        }
        this.tags = Tags.of(tags).and(SERVER_TAG, name);
        this.snapshots = new Snapshots(stats, nanoClock, this::discoverRejectReasons);
        gauge("stcp.connections.active", "Live connections", null, ServerStats::connections);
        counter("stcp.connections.accepted", "Connections accepted and run", null, Tags.empty(), ServerStats::accepted);
        for (CloseReason r : CloseReason.values()) {
            counter("stcp.connections.closed", "Connections that ended, by reason", null, Tags.of(REASON_TAG, r.name()),
                    s -> s.closed(r));
        }
        counter("stcp.health.checks", "A proxy's health checks (PROXY protocol): neither accepted nor closed", null,
                Tags.empty(), ServerStats::healthChecks);
        counter("stcp.accept.errors", "Failed accept calls (EMFILE, ...)", null, Tags.empty(), ServerStats::acceptErrors);
        counter("stcp.received.bytes", "Bytes the readers consumed", BaseUnits.BYTES, Tags.empty(), ServerStats::bytesIn);
        counter("stcp.sent.bytes", "Bytes written to the peers", BaseUnits.BYTES, Tags.empty(), ServerStats::bytesOut);
        counter("stcp.received.messages", "Reader calls that returned (messages read, for a reader that reads one"
                + " per call)", null, Tags.empty(), ServerStats::messagesIn);
        counter("stcp.sent.messages", "Messages written by stcp's queue senders", null, Tags.empty(),
                ServerStats::messagesOut);
        gauge("stcp.queue.messages", "Messages waiting in send queues", null, ServerStats::queuedMessages);
        gauge("stcp.queue.bytes", "Bytes waiting in send queues", BaseUnits.BYTES, ServerStats::queuedBytes);
        counter("stcp.queue.conflated", "Keyed messages replaced by a newer value before being written", null,
                Tags.empty(), ServerStats::conflated);
        counter("stcp.queue.dropped", "Messages dropped by OverflowPolicy.DROP_OLDEST", null, Tags.empty(),
                ServerStats::dropped);
        counter("stcp.queue.discarded", "Accepted messages that were never written (closed, reset, slow consumer)",
                null, Tags.empty(), ServerStats::discarded);
        counter("stcp.queue.rejected", "Puts refused because a send queue was full", null, Tags.empty(),
                ServerStats::rejectedPuts);
        counter("stcp.tls.handshakes", "TLS handshakes, by result", null, Tags.of("result", "ok"),
                ServerStats::tlsHandshakes);
        counter("stcp.tls.handshakes", "TLS handshakes, by result", null, Tags.of("result", "failed"),
                ServerStats::tlsHandshakeFailures);
        for (RejectReason r : RejectReason.values()) { // from the start: a series' first value is no increase to a rate()
            rejectReason(r.key());
        }
    }

    /**
     * Registers the meters in {@code registry}; nothing if this binder has been bound to it
     * already.
     *
     * @throws IllegalStateException if this binder is closed, or {@code registry} holds the meters
     *     of another binder with the same name and tags that has not been closed
     * @throws IllegalArgumentException if {@code registry} refuses a meter (it has one of another
     *     type under the same name and tags, say); the meters registered before it are removed and
     *     the registry is left unbound, so that this binder or another may be bound to it later
     */
    @Override
    public void bindTo(MeterRegistry registry) {
        Objects.requireNonNull(registry, "registry");
        List<MeterDef> now;
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("TcpServerMetrics " + tags + " is closed");
            }
            if (registries.contains(registry)) {
                return;
            }
            if (!claim(registry)) {
                throw new IllegalStateException("the registry has stcp meters tagged " + tags + " already, from another"
                        + " TcpServerMetrics (a server this one replaces?): close() that one first, or use another name");
            }
            registries.add(registry);
            now = List.copyOf(defs);
        } finally {
            lock.unlock();
        }
        // A reason added meanwhile is registered by whoever added it, in every registry, this one
        // included; registering a meter twice returns the first one.
        try {
            now.forEach(d -> d.register(registry));
            discoverRejectReasons(snapshots.take());
        } catch (RuntimeException | Error e) {
            // The registry refused a meter (one of another type under the same name, say): leave it
            // as it was, so that neither a retry nor another binder finds it bound with no meters.
            unbind(registry);
            throw e;
        }
    }

    /** Undoes a {@link #bindTo} that failed: the claim, the registry, and the meters made there. */
    private void unbind(MeterRegistry registry) {
        lock.lock();
        try {
            registries.remove(registry);
            unclaim(registry);
        } finally {
            lock.unlock();
        }
        for (Iterator<Registered> it = registered.iterator(); it.hasNext(); ) {
            Registered r = it.next();
            if (r.registry == registry) {
                it.remove();
                registry.remove(r.meter);
            }
        }
    }

    /** Gives up this binder's tags in {@code registry}; lock held. */
    private void unclaim(MeterRegistry registry) {
        CLAIMS.lock();
        try {
            Set<Tags> claimed = CLAIMED.get(registry);
            if (claimed != null) {
                claimed.remove(tags);
            }
        } finally {
            CLAIMS.unlock();
        }
    }

    /**
     * Claims this binder's tags in {@code registry} for as long as it is bound there; false if a
     * binder that has not been closed holds them. Kept here rather than read from the registry's
     * meters: their ids carry the registry's common tags too, and a search by tags also finds the
     * meters of a binder with more tags (the same name with a region, say).
     */
    private boolean claim(MeterRegistry registry) {
        CLAIMS.lock();
        try {
            return CLAIMED.computeIfAbsent(registry, r -> new HashSet<>()).add(tags);
        } finally {
            CLAIMS.unlock();
        }
    }

    /**
     * Removes this binder's meters from every registry it was bound to, so that they no longer
     * read (nor hold) the server; the server itself is left alone. Idempotent; any thread.
     */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            registries.forEach(this::unclaim);
            registries.clear();
        } finally {
            lock.unlock();
        }
        for (Registered r; (r = registered.poll()) != null; ) {
            r.registry.remove(r.meter);
        }
    }

    private record Registered(MeterRegistry registry, Meter meter) {}

    /**
     * Keeps {@code meter} for {@link #close()}; removes it at once if close() has begun, or the
     * registry is no longer bound (a failed {@link #bindTo} undone meanwhile).
     */
    private void registered(MeterRegistry registry, Meter meter) {
        registered.add(new Registered(registry, meter));
        if (closed || !registries.contains(registry)) { // close() or unbind() may have swept the queue before this was added
            registry.remove(meter);
        }
    }

    /**
     * Registers the series of reject reasons seen for the first time in {@code stats}, in every
     * registry; called with each new snapshot (so, during a scrape: the new series is scraped from
     * the next one on).
     */
    private void discoverRejectReasons(ServerStats stats) {
        for (String reason : stats.rejected().keySet()) {
            MeterDef added = rejectReason(reason);
            if (added != null) {
                registries.forEach(added::register);
            }
        }
    }

    /** The definition of the reject counter for {@code reason}, or null if it exists already. */
    private MeterDef rejectReason(String reason) {
        lock.lock();
        try {
            if (!rejectReasons.add(reason)) {
                return null;
            }
            return counter("stcp.connections.rejected", "Connections refused at accept, by reason", null,
                    Tags.of(REASON_TAG, reason), s -> s.rejected().getOrDefault(reason, 0L));
        } finally {
            lock.unlock();
        }
    }

    private void gauge(String name, String description, String baseUnit, ToLongFunction<ServerStats> value) {
        defs.add(new MeterDef(defs.size(), false, name, description, baseUnit, Tags.empty(), value));
    }

    private MeterDef counter(String name, String description, String baseUnit, Tags extra,
                             ToLongFunction<ServerStats> value) {
        MeterDef d = new MeterDef(defs.size(), true, name, description, baseUnit, extra, value);
        defs.add(d);
        return d;
    }

    /** One meter, registered the same way in every registry; its index is its place in {@link Snapshots}. */
    private final class MeterDef {
        final int index;
        final boolean counter;
        final String name;
        final String description;
        final String baseUnit;
        final Tags tags;
        final ToLongFunction<ServerStats> value;
        /** A counter's highest value so far: what it reports, so that it never goes back. */
        final AtomicLong highest = new AtomicLong();

        MeterDef(int index, boolean counter, String name, String description, String baseUnit, Tags tags,
                 ToLongFunction<ServerStats> value) {
            this.index = index;
            this.counter = counter;
            this.name = name;
            this.description = description;
            this.baseUnit = baseUnit;
            this.tags = tags;
            this.value = value;
        }

        double read() {
            long v = value.applyAsLong(snapshots.read(index));
            return counter ? highest.accumulateAndGet(v, Math::max) : v;
        }

        void register(MeterRegistry registry) {
            // A function counter holds its state object weakly: the function, which the registry holds
            // strongly, captures this definition (and so the snapshots and the server) instead.
            Meter meter;
            if (counter) {
                meter = FunctionCounter.builder(name, this, ignored -> read()).description(description)
                        .baseUnit(baseUnit).tags(TcpServerMetrics.this.tags).tags(tags).register(registry);
            } else {
                meter = Gauge.builder(name, this, ignored -> read()).strongReference(true).description(description)
                        .baseUnit(baseUnit).tags(TcpServerMetrics.this.tags).tags(tags).register(registry);
            }
            registered(registry, meter);
        }
    }
}
