package io.stcp.cluster.internal;

import io.stcp.ConnectionRegistry;
import io.stcp.SendResult;
import io.stcp.cluster.ClusterConfig;
import io.stcp.cluster.internal.Envelope.Kind;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The messages other nodes send this one, from the bus to the registry: a bounded queue between
 * the bus's thread and the fanout's {@code -deliver} thread.
 *
 * <p><b>Threads.</b> The bus's thread only queues what it receives ({@link #offer}: {@link
 * #inbound}, bounded in messages and in bytes), and drops this node's own broadcasts as they come
 * back (their local part is done; they must take no room from the other nodes' messages) and,
 * counted as malformed, anything longer than the longest valid envelope ({@link
 * Envelope#maxLength}: a bus may hand over more, which would take the queue's bytes until the
 * delivery thread got to it; {@code RedisBus} skips such a message unread and says so, {@link
 * #tooLong}). The delivery thread ({@link #loop}) takes from the queue, decodes and
 * delivers through the registry, holding no lock. {@link #inboundBytes} is reserved before the
 * offer and given back on failure or when the message is taken.
 *
 * <p><b>Lifecycle.</b> The loop ends when the fanout is closed and its thread interrupted; what is
 * still queued then is dropped by {@link #discard}.
 */
final class Delivery {
    private static final Logger log = LoggerFactory.getLogger(RealClusterFanout.class); // the fanout's lines, under its name

    private final ClusterConfig config;
    private final String nodeId;
    private final byte[] nodeIdBytes; // UTF-8
    private final ConnectionRegistry registry;
    private final BooleanSupplier closed; // the fanout's
    private final ArrayBlockingQueue<byte[]> inbound;
    private final AtomicLong inboundBytes = new AtomicLong(); // queued in inbound
    private final long maxEnvelope; // the longest valid envelope: longer ones are refused before the queue

    final LongAdder received = new LongAdder();
    final LongAdder delivered = new LongAdder();
    final LongAdder refused = new LongAdder();
    final LongAdder unroutable = new LongAdder();
    final LongAdder malformed = new LongAdder();
    final LongAdder overflow = new LongAdder();
    final LongAdder discarded = new LongAdder();

    private final LogLimiter malformedLog = new LogLimiter(TimeUnit.SECONDS.toNanos(1));
    private final LogLimiter overflowLog = new LogLimiter(TimeUnit.SECONDS.toNanos(1));
    private final LogLimiter deliverLog = new LogLimiter(TimeUnit.SECONDS.toNanos(1));

    Delivery(ClusterConfig config, ConnectionRegistry registry, BooleanSupplier closed) {
        this.config = config;
        this.nodeId = config.nodeId();
        this.nodeIdBytes = nodeId.getBytes(StandardCharsets.UTF_8);
        this.registry = registry;
        this.closed = closed;
        this.inbound = new ArrayBlockingQueue<>(config.inboundQueue());
        this.maxEnvelope = Envelope.maxLength(config.maxMessageBytes());
    }

    /** Queues a message from the bus, or drops it (counted, logged); on the bus's thread. */
    void offer(byte[] message) {
        if (Envelope.isBroadcastFrom(message, nodeIdBytes)) {
            return; // this node's own broadcast, back from the bus: its local part is done, and it must take no room
        }
        if (message.length > maxEnvelope) {
            // No valid envelope is this long (a bus may pass whatever its engine allows): refused
            // here, it takes no room from the messages that follow.
            malformed(message.length, "length " + message.length + " (expected: <= " + maxEnvelope + ")");
            return;
        }
        // Bytes are reserved before the offer and given back on failure or when taken.
        boolean queued = inboundBytes.addAndGet(message.length) <= config.inboundMaxBytes() && inbound.offer(message);
        if (!queued) {
            inboundBytes.addAndGet(-message.length);
            overflow.increment();
            long held = overflowLog.tryAcquire();
            if (held >= 0) {
                LogLimiter.suppressed(log.atWarn().setMessage("cluster.receive.overflow").addKeyValue("node", nodeId)
                        .addKeyValue("inboundQueue", config.inboundQueue()).addKeyValue("inboundMaxBytes", config.inboundMaxBytes()), held).log();
            }
        }
    }

    /** The delivery thread: takes and delivers until the fanout is closed (its thread interrupted). */
    void loop() {
        while (!closed.getAsBoolean()) {
            byte[] message;
            try {
                message = inbound.take();
            } catch (InterruptedException e) {
                break; // close()
            }
            inboundBytes.addAndGet(-message.length);
            try {
                deliver(message);
            } catch (Throwable e) {
                // A bug, out of memory (a payload of maxMessageBytes on a full heap), or anything from
                // a registry the application wrapped (a checked exception thrown unchecked, as Kotlin
                // does): it costs this message, not the thread: with no delivery thread, every later
                // message would be dropped.
                try {
                    long held = deliverLog.tryAcquire();
                    if (held >= 0) {
                        LogLimiter.suppressed(log.atWarn().setMessage("cluster.deliver.error").addKeyValue("node", nodeId), held).setCause(e).log();
                    }
                } catch (Throwable logFailed) {
                    // out of memory even for the line: the loop goes on all the same
                }
            }
        }
    }

    /** Decodes and delivers one message from the bus; runs on the deliver thread. */
    void deliver(byte[] message) {
        Envelope e;
        try {
            e = Envelope.decode(message, config.maxMessageBytes());
        } catch (Envelope.Malformed m) {
            malformed(message.length, m.getMessage());
            return;
        }
        if (e.kind() == Kind.ALL && e.origin().equals(nodeId)) {
            return; // this node's own broadcast: its local part is done
        }
        received.increment();
        SendResult r = switch (e.kind()) {
            case USER -> switch (e.keyType()) {
                case NONE -> registry.sendToUser(e.target(), e.payload());
                case INT -> registry.sendToUser(e.target(), e.intKey(), e.payload());
                case STRING -> registry.sendToUser(e.target(), e.stringKey(), e.payload());
            };
            case GROUP -> switch (e.keyType()) {
                case NONE -> registry.sendToGroup(e.target(), e.payload());
                case INT -> registry.sendToGroup(e.target(), e.intKey(), e.payload());
                case STRING -> registry.sendToGroup(e.target(), e.stringKey(), e.payload());
            };
            case ALL -> switch (e.keyType()) {
                case NONE -> registry.broadcast(e.payload());
                case INT -> registry.broadcast(e.intKey(), e.payload());
                case STRING -> registry.broadcast(e.stringKey(), e.payload());
            };
        };
        delivered.add(r.accepted());
        refused.add(r.refused());
        if (r.recipients() == 0) {
            unroutable.increment();
        }
    }

    /** Drops what is still queued, once the delivery thread has ended, and counts it in {@link #discarded}; returns how many. */
    int discard() {
        int n = 0;
        for (byte[] m; (m = inbound.poll()) != null; ) { // one by one: a bus thread left running may still offer
            inboundBytes.addAndGet(-m.length);
            n++;
        }
        discarded.add(n);
        return n;
    }

    /**
     * Counts and logs (rate-limited) a message the bus skipped unread, longer than the {@code limit}
     * it reads (no envelope is that long); on the bus's thread.
     */
    void tooLong(long length, long limit) {
        malformed(length, "length " + length + " (expected: <= " + limit + "), skipped unread");
    }

    /** Counts and logs (rate-limited) a message from the bus of {@code bytes} that is no valid envelope, as {@code error} says; any thread. */
    private void malformed(long bytes, String error) {
        malformed.increment();
        long held = malformedLog.tryAcquire();
        if (held >= 0) {
            LogLimiter.suppressed(log.atWarn().setMessage("cluster.receive.malformed").addKeyValue("node", nodeId).addKeyValue("error", error)
                    .addKeyValue("bytes", bytes), held).log();
        }
    }
}
