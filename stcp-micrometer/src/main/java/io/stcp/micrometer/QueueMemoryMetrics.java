package io.stcp.micrometer;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.BaseUnits;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.stcp.QueueSender;
import java.util.Objects;
import java.util.function.Supplier;
import java.util.function.ToLongFunction;

/**
 * Micrometer gauges for the direct memory that large messages are held in while they wait in a
 * {@link QueueSender}'s queue ({@link QueueSender#directMemory()}). There is one such pool for the
 * whole process, shared by every server and client, so bind this once per registry; its meters
 * carry no {@code server} tag.
 *
 * <pre>{@code
 * new QueueMemoryMetrics().bindTo(registry);
 * }</pre>
 *
 * <table>
 *   <caption>Meters (Prometheus names in brackets)</caption>
 *   <tr><th>name</th><th>type</th><th>what</th></tr>
 *   <tr><td>{@code stcp.queue.direct.used}</td><td>gauge, bytes</td><td>held for queued messages now [{@code stcp_queue_direct_used_bytes}]</td></tr>
 *   <tr><td>{@code stcp.queue.direct.held}</td><td>gauge, bytes</td><td>direct memory the pool holds: in use, or kept for the next messages until idle</td></tr>
 *   <tr><td>{@code stcp.queue.direct.limit}</td><td>gauge, bytes</td><td>the most the pool holds ({@code -Dio.stcp.sendQueue.directBytes})</td></tr>
 * </table>
 *
 * <p>{@code held} near {@code limit} with {@code used} near it too means large messages are being
 * queued as arrays again, on the heap; {@code held} falls back after a burst, once the chunks no
 * message needed stay unused for a whole idle period ({@code -Dio.stcp.sendQueue.directIdleMillis},
 * default 10 s; see {@link QueueSender#directMemory()}). Each reading takes the pool's lock once; nothing is added to the connections' path.
 *
 * <p><b>Thread safety.</b> {@link #bindTo} may be called from any thread, for any number of
 * registries.
 */
public final class QueueMemoryMetrics implements MeterBinder {
    private final Supplier<QueueSender.DirectMemory> memory;
    private final Tags tags;

    /**
     * Gauges with no tags.
     *
     * @throws IllegalStateException if the pool's system property is not a number of bytes
     */
    public QueueMemoryMetrics() {
        this(Tags.empty());
    }

    /**
     * Gauges tagged with {@code tags}.
     *
     * @throws IllegalStateException if the pool's system property is not a number of bytes
     */
    public QueueMemoryMetrics(Iterable<Tag> tags) {
        this(QueueSender::directMemory, tags);
        QueueSender.directMemory(); // a bad property fails here, not at every scrape
    }

    /** Gauges over any source of readings (a seam for tests). */
    QueueMemoryMetrics(Supplier<QueueSender.DirectMemory> memory, Iterable<Tag> tags) {
        this.memory = Objects.requireNonNull(memory, "memory");
        this.tags = Tags.of(tags);
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        Objects.requireNonNull(registry, "registry");
        gauge(registry, "stcp.queue.direct.used", "Direct memory held for queued messages now",
                QueueSender.DirectMemory::usedBytes);
        gauge(registry, "stcp.queue.direct.held", "Direct memory the send queues' pool holds, in use or kept",
                QueueSender.DirectMemory::heldBytes);
        gauge(registry, "stcp.queue.direct.limit", "The most direct memory the send queues' pool holds",
                QueueSender.DirectMemory::limitBytes);
    }

    private void gauge(MeterRegistry registry, String name, String description,
                       ToLongFunction<QueueSender.DirectMemory> value) {
        Gauge.builder(name, memory, m -> value.applyAsLong(m.get())).strongReference(true)
                .description(description).baseUnit(BaseUnits.BYTES).tags(tags).register(registry);
    }
}
