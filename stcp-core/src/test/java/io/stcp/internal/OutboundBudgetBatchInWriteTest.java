package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.CloseReason;
import io.stcp.Connection;
import io.stcp.QueueSender;
import io.stcp.testing.Echo;
import java.io.DataInputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A batch a connection's writer has taken out of its send queue stays charged to the server's
 * outbound budget while its write blocks (a peer that does not read), until it is written or the
 * connection closes. The old code gave it back as it was taken, so every connection could hold a
 * batch (one message of a MiB, or more) outside the budget for as long as its write timeout.
 * Written by a send thread (one message of a MiB), and by the reader paying the drain it owes
 * ({@code batchReplies}, five replies it may owe: on epoll the reader writes them as one batch, on
 * the JDK's transport a send thread writes them, the rest queued behind its first batch). Either
 * way the queue's bytes and the writer's batch together are charged beyond the slack.
 */
class OutboundBudgetBatchInWriteTest {
    private static final long BUDGET = 16 << 20;

    private final BlockingQueue<Connection> putsDone = new LinkedBlockingQueue<>();
    private final CompletableFuture<QueueSender> sender = new CompletableFuture<>();
    private final CompletableFuture<Connection> exited = new CompletableFuture<>();
    private volatile Thread reader;
    private RealTcpServer server;

    @AfterEach
    void tearDown() throws Exception {
        if (server != null) {
            Echo.stop(server);
        }
    }

    @ParameterizedTest(name = "{1} x {0} bytes, batchReplies {2}")
    @CsvSource({"1048576, 1, false", "61440, 5, true"})
    void aBatchBeingWrittenStaysChargedUntilWrittenOrTheConnectionCloses(int reply, int replies, boolean batchReplies)
            throws Exception {
        server = new RealTcpServer(Echo.loopback().outboundBudget(BUDGET).writeTimeout(Duration.ZERO).build(),
                (s, conn) -> {
                    conn.readBytes(1);
                    conn.channel().setOption(StandardSocketOptions.SO_SNDBUF, 4096); // a write of a reply blocks
                    sender.complete((QueueSender) s);
                    reader = Thread.currentThread();
                    for (int i = 0; i < replies; i++) {
                        s.put(new byte[reply]);
                    }
                    putsDone.add(conn);
                },
                QueueSender.options().capacity(1024).maxBytes(16 << 20).batchReplies(batchReplies)::build);
        server.onConnectionExit(s -> exited.complete(s.connection()));
        server.start();
        // a first reply within the larger slack takes a slack permit, given back as the queue rises above that
        // slack: then it is charged beyond the free bytes, as a queue whose first reply is larger
        long expected = (long) replies * reply - OutboundBudget.FREE_BYTES;
        try (Socket peer = new Socket()) {
            peer.setReceiveBufferSize(4096);
            peer.connect(new InetSocketAddress("127.0.0.1", server.address().getPort()));

            peer.getOutputStream().write(1);
            Connection c = putsDone.poll(30, TimeUnit.SECONDS);
            assertThat(c).isNotNull();
            OutboundBudget budget = ((RealConnection) c).context().outboundBudget();
            QueueSender q = sender.get(30, TimeUnit.SECONDS);
            awaitBatchInWrite(q, replies);
            if (batchReplies && !Transports.name().equals("jdk")) {
                assertThat(reader.getStackTrace()).as("the reader writes what it owes")
                        .anyMatch(f -> f.getMethodName().equals("payOwed"));
            }
            assertThat(budget.chargedBytes()).as("queued and being written, beyond the slack (the old code: only"
                    + " what is queued)").isEqualTo(expected);

            // The peer reads it all: written, and given back.
            new DataInputStream(peer.getInputStream()).readFully(new byte[replies * reply]);
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> budget.chargedBytes() == 0);
            assertThat(c.isOpen()).isTrue();

            // Again, and the connection closes under the blocked write: given back too.
            peer.getOutputStream().write(1);
            assertThat(putsDone.poll(30, TimeUnit.SECONDS)).isSameAs(c);
            awaitBatchInWrite(q, replies);
            assertThat(budget.chargedBytes()).isEqualTo(expected);
            c.close(CloseReason.CLOSED);
            assertThat(exited.get(30, TimeUnit.SECONDS)).isSameAs(c);
            assertThat(budget.chargedBytes()).as("every charge given back").isZero();
            assertThat(budget.waiters()).isZero();
        }
    }

    /**
     * Waits until the writer has taken its first batch: it is then stuck in its write for good,
     * since any one reply is more than the small socket buffers hold, with the rest queued.
     */
    private static void awaitBatchInWrite(QueueSender q, int replies) {
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> q.stats().pendingMessages() < replies);
    }
}
