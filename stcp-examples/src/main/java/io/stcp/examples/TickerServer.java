package io.stcp.examples;

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

/**
 * A quote feed: publishes the price of {@code symbols} instruments every {@code interval} to every
 * client, through conflating senders keyed by symbol. A client that reads slowly gets the latest
 * price of each symbol, not a backlog: its queue never holds more than one quote per symbol.
 *
 * <p>Quote frame: 4-byte length (20), then symbol (int), price in ticks (long), sequence (long),
 * all big-endian. Clients send nothing; closing the socket unsubscribes.
 */
public final class TickerServer implements AutoCloseable {
    /** Body length of a quote frame. */
    public static final int QUOTE_BODY = 20;

    private final TcpServer server;
    private final Set<QueueSender> subscribers = ConcurrentHashMap.newKeySet();
    private final long[] prices;
    private final AtomicLong sequence = new AtomicLong();
    private final Thread publisher;
    private volatile boolean publishing = true;

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

    /** Starts a feed of {@code symbols} instruments updated every {@code interval}. */
    public static TickerServer start(ServerConfig config, int symbols, Duration interval) throws IOException {
        return new TickerServer(config, symbols, interval);
    }

    private void publish(Duration interval) {
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

    /** Stops publishing; the last prices then stay as they are. Waits for the publisher to end. */
    public void stopPublishing() throws InterruptedException {
        publishing = false;
        publisher.join();
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
        stopPublishing();
        server.close();
        server.awaitTermination(Duration.ofSeconds(10));
    }
}
