package io.stcp.examples;

import io.stcp.Durations;
import io.stcp.QueueSender;
import io.stcp.SendException;
import io.stcp.Sender;
import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A quote feed: publishes the price of {@code symbols} instruments every {@code interval} to every
 * client, through conflating senders keyed by symbol. A client that reads slowly gets the latest
 * price of each symbol, not a backlog: its queue never holds more than one quote per symbol.
 *
 * <p>Quote frame: 4-byte length (20), then symbol (int), price in ticks (long), sequence (long),
 * all big-endian. Clients send nothing; closing the socket unsubscribes.
 */
public final class TickerServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TickerServer.class);

    /** Body length of a quote frame. */
    public static final int QUOTE_BODY = 20;

    /** The shortest interval between rounds: a shorter one would only spin a core. */
    public static final Duration MIN_INTERVAL = Duration.ofNanos(100_000);

    private final TcpServer server;
    private final Set<QueueSender> subscribers = ConcurrentHashMap.newKeySet();
    private final long[] prices;
    private final AtomicLong sequence = new AtomicLong();
    private final Thread publisher;
    private volatile boolean publishing = true;
    private volatile @Nullable RuntimeException publisherFailure;

    private TickerServer(ServerConfig config, int symbols, Duration interval) throws IOException {
        this.prices = new long[symbols];
        java.util.Arrays.fill(prices, 10_000);
        this.server = TcpServer.create(config,
                        (sender, conn) -> conn.readUnsignedByte(), // clients send nothing; EOF ends them
                        QueueSender.options().capacity(symbols).conflating(true)::build)
                .onConnectionStart(s -> {
                    // Small kernel buffers: quotes wait in the conflating queue, where they can be
                    // replaced, rather than in the socket, where they go stale.
                    s.connection().channel().setOption(StandardSocketOptions.SO_SNDBUF, 8 * 1024);
                    subscribers.add((QueueSender) s);
                })
                .onConnectionExit(s -> subscribers.remove((QueueSender) s))
                .start();
        this.publisher = Thread.ofVirtual().name("ticker-publisher").start(() -> publish(interval));
    }

    /**
     * Starts a feed of {@code symbols} instruments updated every {@code interval}.
     *
     * @throws IllegalArgumentException if {@code symbols} is below 1 or {@code interval} below {@link #MIN_INTERVAL}
     */
    public static TickerServer start(ServerConfig config, int symbols, Duration interval) throws IOException {
        if (symbols < 1) {
            throw new IllegalArgumentException("symbols: " + symbols + " (expected: at least 1)");
        }
        if (interval.compareTo(MIN_INTERVAL) < 0) {
            throw new IllegalArgumentException("interval: " + Durations.format(interval) + " (expected: at least "
                    + Durations.format(MIN_INTERVAL) + ")");
        }
        return new TickerServer(config, symbols, interval);
    }

    /** Publishes until stopped; a failure is logged and kept, and {@link #stopPublishing()} throws it. */
    private void publish(Duration interval) {
        try {
            publishRounds(interval);
        } catch (RuntimeException e) {
            publisherFailure = e;
            LOG.atError().setMessage("ticker.publisher.failed").setCause(e).log();
        }
    }

    private void publishRounds(Duration interval) {
        java.util.SplittableRandom random = new java.util.SplittableRandom(42);
        while (publishing) {
            for (int symbol = 0; symbol < prices.length; symbol++) {
                prices[symbol] += random.nextInt(-5, 6);
                byte[] quote = quote(symbol, prices[symbol], sequence.incrementAndGet());
                // snippet:start conflation
                for (Sender s : subscribers) { // conflating senders: QueueSender.options().conflating(true)
                    try {
                        s.put(symbol, quote); // replaces this symbol's quote if it is still queued
                    } catch (SendException e) {
                        // closed or closing subscriber: its exit hook removes it
                    }
                }
                // snippet:end
            }
            try {
                TimeUnit.NANOSECONDS.sleep(interval.toNanos());
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    static byte[] quote(int symbol, long price, long seq) {
        return ByteBuffer.allocate(4 + QUOTE_BODY).putInt(QUOTE_BODY).putInt(symbol).putLong(price).putLong(seq).array();
    }

    /**
     * Stops publishing; the last prices then stay as they are. Waits for the publisher to end.
     *
     * @throws IllegalStateException if the publisher had failed (and stopped) before
     */
    public void stopPublishing() throws InterruptedException {
        publishing = false;
        publisher.join();
        RuntimeException failure = publisherFailure;
        if (failure != null) {
            throw new IllegalStateException("the publisher failed", failure);
        }
    }

    /** The latest price of {@code symbol}; stable after {@link #stopPublishing()}. */
    public long price(int symbol) {
        return prices[symbol];
    }

    /** Quotes published so far (the last sequence number). */
    public long published() {
        return sequence.get();
    }

    /** The subscribers' senders, for their counters. */
    public Set<QueueSender> subscribers() {
        return Set.copyOf(subscribers);
    }

    public InetSocketAddress address() {
        return server.address();
    }

    @Override
    public void close() throws Exception {
        try {
            stopPublishing();
        } finally {
            server.close();
            server.awaitTermination(Duration.ofSeconds(10));
        }
    }
}
