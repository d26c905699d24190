package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.Connection;
import io.stcp.ConnectionRegistry;
import io.stcp.OverflowPolicy;
import io.stcp.QueueFullException;
import io.stcp.QueueSender;
import io.stcp.SendResult;
import io.stcp.testing.Echo;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Puts from threads other than the connection's reader, when the server's outbound budget is
 * spent: FAIL fails at once and BLOCK after its timeout, each naming the budget, and a fan-out
 * returns with the recipients counted full; none passes the budget.
 */
class OutboundBudgetPolicyTest {
    private static final int CHUNK = 64 << 10;
    private static final long BUDGET = 256 << 10;
    private static final Duration BLOCK_TIMEOUT = Duration.ofMillis(300);

    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final List<Thread> threads = new CopyOnWriteArrayList<>();
    private final List<Connection> started = new CopyOnWriteArrayList<>();
    private final Map<Connection, QueueSender> senders = new ConcurrentHashMap<>();
    private RealTcpServer server;

    @AfterEach
    void tearDown() throws Exception {
        for (Socket s : sockets) {
            s.close();
        }
        if (server != null) {
            Echo.stop(server);
        }
        for (Thread t : threads) {
            t.join(10_000);
            assertThat(t.isAlive()).as("peer thread %s ended", t.getName()).isFalse();
        }
    }

    private Socket peer(int chunks) throws IOException {
        Socket s = new Socket();
        sockets.add(s);
        s.setReceiveBufferSize(4096);
        s.connect(new InetSocketAddress("127.0.0.1", server.address().getPort()));
        if (chunks > 0) {
            Thread t = Thread.ofPlatform().name("peer-writer-" + s.getLocalPort()).start(() -> {
                try {
                    OutputStream out = s.getOutputStream();
                    for (int i = 0; i < chunks; i++) {
                        out.write(new byte[CHUNK]);
                    }
                } catch (IOException closed) {
                    // the test closed the socket
                }
            });
            threads.add(t);
        }
        return s;
    }

    @ParameterizedTest
    @EnumSource(value = OverflowPolicy.class, names = {"FAIL", "BLOCK"})
    void putsFromOtherThreadsFollowThePolicyAndFanOutsReturn(OverflowPolicy policy) throws Exception {
        ConnectionRegistry registry = ConnectionRegistry.create();
        AtomicInteger made = new AtomicInteger();
        server = new RealTcpServer(Echo.loopback().outboundBudget(BUDGET).writeTimeout(Duration.ZERO).build(),
                (sender, conn) -> {
                    senders.putIfAbsent(conn, (QueueSender) sender);
                    sender.put(conn.readBytes(CHUNK));
                },
                // The first connection's reader waits for the budget without limit (FAIL, no write
                // timeout); under BLOCK it would give up after the block timeout, as on a full queue.
                conn -> {
                    OverflowPolicy p = made.getAndIncrement() == 0 ? OverflowPolicy.FAIL : policy;
                    QueueSender.Options o = QueueSender.options().capacity(1024).maxBytes(4 << 20).overflow(p);
                    return (p == OverflowPolicy.BLOCK ? o.blockTimeout(BLOCK_TIMEOUT) : o).build(conn);
                });
        server.registry(registry);
        server.onConnectionStart(s -> started.add(s.connection()));
        server.start();
        peer(64); // sends and never reads: its reader spends the budget and waits
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> started.size() == 1);
        OutboundBudget budget = ((RealConnection) started.get(0)).context().outboundBudget();
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> budget.waiters() == 1);

        peer(0); // sends nothing and never reads
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> started.size() == 2);
        QueueSender quiet = (QueueSender) registry.connection(started.get(1).id());
        // Its queue's slack takes a chunk or so, its socket's buffers some more; then the budget refuses.
        assertThatThrownBy(() -> {
            for (int i = 0; i < 1000; i++) {
                long t0 = System.nanoTime();
                try {
                    quiet.put(new byte[CHUNK]);
                } catch (QueueFullException e) {
                    if (policy == OverflowPolicy.BLOCK) {
                        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(BLOCK_TIMEOUT);
                    }
                    throw e;
                }
            }
        }).isInstanceOf(QueueFullException.class).hasMessageContaining("outbound budget");
        assertThat(quiet.stats().pendingBytes()).isLessThanOrEqualTo(OutboundBudget.SLACK_BYTES + budget.limitBytes());

        SendResult result = registry.broadcast(new byte[CHUNK]);
        assertThat(result.accepted() + result.full()).as(result.toString()).isEqualTo(2);
        assertThat(result.full()).as("the budget is spent: at least the quiet one is refused").isGreaterThanOrEqualTo(1);
        assertThat(budget.peakBytes()).isLessThanOrEqualTo(BUDGET);
        assertThat(started).as("nobody is disconnected").allMatch(Connection::isOpen);
    }
}
