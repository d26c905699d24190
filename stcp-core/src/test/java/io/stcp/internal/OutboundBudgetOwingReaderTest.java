package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.OverflowPolicy;
import io.stcp.QueueSender;
import io.stcp.Sender;
import io.stcp.testing.Echo;
import java.io.DataInputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A reader that owes its drain ({@code batchReplies}, on the epoll transport) holds its own
 * peer's replies queued, and nobody else writes them: when those fill the server's outbound
 * budget, its put into another connection's queue must not wait for (or fail on) bytes only it
 * can free. On the JDK's transport nothing is owed, and a send thread frees them.
 */
class OutboundBudgetOwingReaderTest {
    private static final int REPLY = 60 << 10; // below the 64 KiB a reader may owe
    private static final int REPLIES = 3;      // 180 KiB queued: 100 KiB beyond the slack
    private static final long BUDGET = REPLIES * (long) REPLY - OutboundBudget.SLACK_BYTES; // spent by them exactly
    private static final int RELAYED = 100 << 10; // 20 KiB beyond the other queue's slack

    private final CompletableFuture<Sender> target = new CompletableFuture<>();
    private final CompletableFuture<Optional<Throwable>> relayed = new CompletableFuture<>();
    private RealTcpServer server;

    @AfterEach
    void tearDown() throws Exception {
        if (server != null) {
            Echo.stop(server);
        }
    }

    @Test
    void aReaderOwingItsDrainPaysItBeforeWaitingForTheBudget() throws Exception {
        server = new RealTcpServer(Echo.loopback().outboundBudget(BUDGET).writeTimeout(Duration.ofSeconds(30)).build(),
                (sender, conn) -> {
                    if (conn.readBytes(1)[0] == 'T') {
                        target.complete(sender);
                        return;
                    }
                    for (int i = 0; i < REPLIES; i++) {
                        sender.put(new byte[REPLY]); // owed: queued for this reader to write
                    }
                    try {
                        target.get().put(new byte[RELAYED]);
                        relayed.complete(Optional.empty());
                    } catch (Throwable t) {
                        relayed.complete(Optional.of(t));
                    }
                },
                QueueSender.options().capacity(1024).maxBytes(4 << 20).batchReplies(true)
                        .overflow(OverflowPolicy.BLOCK).blockTimeout(Duration.ofSeconds(10))::build);
        server.start();
        try (Socket other = new Socket("127.0.0.1", server.address().getPort());
             Socket relaying = new Socket("127.0.0.1", server.address().getPort())) {
            other.getOutputStream().write('T');
            target.get(30, TimeUnit.SECONDS);
            relaying.getOutputStream().write('A');
            DataInputStream in = new DataInputStream(relaying.getInputStream());
            in.readFully(new byte[REPLIES * REPLY]);
            assertThat(relayed.get(30, TimeUnit.SECONDS)).as("the relayed put's failure").isEmpty();
            new DataInputStream(other.getInputStream()).readFully(new byte[RELAYED]);
        }
    }
}
