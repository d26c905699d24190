package io.stcp.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.QueueSender;
import io.stcp.ServerConfig;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

class TickerServerTest {
    private static final int SYMBOLS = 50;

    @Test
    void aSlowClientGetsTheLatestPricePerSymbolAndItsQueueStaysBounded() throws Exception {
        try (TickerServer ticker = TickerServer.start(ServerConfig.builder().address("127.0.0.1:0").build(), SYMBOLS,
                Duration.ofMillis(1));
             Socket socket = new Socket()) {
            socket.setReceiveBufferSize(4096);
            socket.connect(ticker.address());
            Awaitility.await().until(() -> ticker.subscribers().size() == 1);
            QueueSender sender = ticker.subscribers().iterator().next();

            // Do not read while the feed publishes many rounds: the socket buffers fill up and
            // the queue conflates instead of growing.
            long target = ticker.published() + 200L * SYMBOLS;
            AtomicInteger maxPending = new AtomicInteger();
            Awaitility.await().pollInterval(Duration.ofMillis(1)).atMost(Duration.ofSeconds(30)).until(() -> {
                maxPending.accumulateAndGet(sender.stats().pendingMessages(), Math::max);
                return ticker.published() >= target;
            });
            ticker.stopPublishing();
            QueueSender.Stats stats = sender.stats();
            assertThat(maxPending.get()).isLessThanOrEqualTo(SYMBOLS);
            assertThat(stats.pendingMessages()).isLessThanOrEqualTo(SYMBOLS);
            assertThat(stats.conflated()).isPositive();

            long[] last = new long[SYMBOLS];
            DataInputStream in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
            socket.setSoTimeout(10_000); // a timeout here fails the test: the latest prices never came
            long received = 0;
            while (!IntStream.range(0, SYMBOLS).allMatch(s -> last[s] == ticker.price(s))) {
                assertThat(in.readInt()).isEqualTo(TickerServer.QUOTE_BODY);
                int symbol = in.readInt();
                last[symbol] = in.readLong();
                in.readLong();
                received++;
            }
            assertThat(received).isLessThan(ticker.published());
        }
    }

    @Test
    void anIntervalTooShortToSleepIsRefusedWithAClearError() {
        ServerConfig config = ServerConfig.builder().address("127.0.0.1:0").build();
        assertThatThrownBy(() -> TickerServer.start(config, SYMBOLS, Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("interval: 0s (expected: at least 100µs)");
        java.io.PrintStream err = System.err;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(captured, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            assertThat(Main.run("ticker", "--interval", "0")).as("picocli's usage error").isEqualTo(2);
        } finally {
            System.setErr(err);
        }
        assertThat(captured.toString(java.nio.charset.StandardCharsets.UTF_8))
                .contains("--interval: 0s (expected: at least 100µs)");
    }
}
