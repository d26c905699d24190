package io.stcp.examples;

import io.stcp.QueueSender;
import io.stcp.ServerConfig;
import java.io.DataInputStream;
import java.io.EOFException;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code ticker}: a quote feed through conflating senders, with an optional deliberately slow
 * in-process client that shows it receives the latest price per symbol while its server-side queue
 * stays bounded.
 */
@Command(name = "ticker", mixinStandardHelpOptions = true,
        description = {"Publish quotes to clients through conflating senders (latest price per symbol wins).",
                "Subscribers send nothing, so a silent one is not dropped; one that stops reading is closed"
                        + " after --write-timeout."})
final class TickerCommand implements Callable<Integer> {

    @Option(names = "--addr", defaultValue = "127.0.0.1:0", description = "Listen address (default: ${DEFAULT-VALUE}).")
    String address;

    @Option(names = "--symbols", defaultValue = "300", description = "Instruments (default: ${DEFAULT-VALUE}).")
    int symbols;

    @Option(names = "--interval", defaultValue = "1ms", description = "Time between price rounds, at least "
            + "100µs (default: ${DEFAULT-VALUE}).")
    Duration interval;

    @Option(names = "--write-timeout", defaultValue = "5s", description = "Close a subscriber when a write to it"
            + " blocks this long (it stopped reading); 0 = none (default: ${DEFAULT-VALUE}).")
    Duration writeTimeout;

    @Option(names = "--duration", defaultValue = "10s", description = "How long to run (default: ${DEFAULT-VALUE}).")
    Duration duration;

    @Option(names = "--slow-client-delay", defaultValue = "2ms",
            description = "Pause of the in-process slow client after each quote; 0 = no slow client (default: ${DEFAULT-VALUE}).")
    Duration slowDelay;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (symbols < 1) {
            throw new ParameterException(spec.commandLine(), "--symbols: " + symbols + " (expected: at least 1)");
        }
        if (interval.compareTo(TickerServer.MIN_INTERVAL) < 0) {
            throw new ParameterException(spec.commandLine(), "--interval: " + io.stcp.Durations.format(interval)
                    + " (expected: at least " + io.stcp.Durations.format(TickerServer.MIN_INTERVAL) + ")");
        }
        ServerConfig config = ServerConfig.builder().address(address).writeTimeout(writeTimeout).build();
        try (TickerServer ticker = TickerServer.start(config, symbols, interval)) {
            System.out.printf("ticker: %d symbols every %s on %s for %s%n", symbols, io.stcp.Durations.format(interval),
                    ticker.address(), io.stcp.Durations.format(duration));
            if (slowDelay.isZero()) {
                TimeUnit.NANOSECONDS.sleep(duration.toNanos());
                return 0;
            }
            try (Socket socket = new Socket()) {
                socket.setReceiveBufferSize(4096); // a slow reader with little buffering
                // A quote comes every interval: a feed silent for much longer has failed, and this client says so.
                Duration silence = interval.plusSeconds(10);
                socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, silence.toMillis()));
                socket.connect(ticker.address(), 10_000);
                DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(socket.getInputStream()));
                long[] lastPrice = new long[symbols];
                long received = 0;
                int maxPending = 0;
                long end = System.nanoTime() + duration.toNanos();
                long nextReport = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
                while (System.nanoTime() < end) {
                    try {
                        received += readQuote(in, lastPrice);
                    } catch (java.net.SocketTimeoutException e) {
                        System.out.println("slow client: no quote for " + io.stcp.Durations.format(silence));
                        return 1;
                    }
                    TimeUnit.NANOSECONDS.sleep(slowDelay.toNanos()); // the deliberately slow consumer
                    if (System.nanoTime() > nextReport) {
                        QueueSender mine = subscriberOf(ticker, socket);
                        if (mine == null) {
                            System.out.println("slow client: dropped by the server");
                            return 1;
                        }
                        QueueSender.Stats s = mine.stats();
                        maxPending = Math.max(maxPending, s.pendingMessages());
                        System.out.printf("  published %,d  received %,d  conflated %,d  pending %d (max %d, bound %d)%n",
                                ticker.published(), received, s.conflated(), s.pendingMessages(), maxPending, symbols);
                        nextReport += TimeUnit.SECONDS.toNanos(1);
                    }
                }
                ticker.stopPublishing();
                socket.setSoTimeout(200);
                try {
                    while (true) {
                        received += readQuote(in, lastPrice); // drain what is left: at most one per symbol
                    }
                } catch (java.net.SocketTimeoutException | EOFException drained) {
                    // nothing more queued
                }
                int stale = 0;
                for (int i = 0; i < symbols; i++) {
                    if (lastPrice[i] != ticker.price(i)) {
                        stale++;
                    }
                }
                System.out.printf("slow client: received %,d of %,d quotes published; symbols with a stale last price: %d%n",
                        received, ticker.published(), stale);
                return stale == 0 ? 0 : 1;
            }
        }
    }

    /** The server's sender for the slow client's {@code socket}, or null once the server has dropped it. */
    private static QueueSender subscriberOf(TickerServer ticker, Socket socket) {
        for (QueueSender s : ticker.subscribers()) {
            if (s.connection().remoteAddress().equals(socket.getLocalSocketAddress())) {
                return s;
            }
        }
        return null;
    }

    private static int readQuote(DataInputStream in, long[] lastPrice) throws java.io.IOException {
        in.readInt();
        int symbol = in.readInt();
        lastPrice[symbol] = in.readLong();
        in.readLong();
        return 1;
    }
}
