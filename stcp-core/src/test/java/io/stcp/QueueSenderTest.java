package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.Echo;
import io.stcp.testing.SocketPair;
import io.stcp.testing.TestClient;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** QueueSender on a real connection; the send loop is not running unless a test starts it. */
class QueueSenderTest {

    @Test
    void aFullQueueFailsFastAndAClosedOneFailsDistinctlyBothWithoutStackTraces() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.create(p.server, 2);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            sender.put(new byte[] {1});
            sender.put(new byte[] {2});
            QueueFullException full = org.junit.jupiter.api.Assertions.assertThrows(QueueFullException.class,
                    () -> sender.put(new byte[] {3}));
            assertThat(full.getStackTrace()).isEmpty();
            assertThat(sender.stats().rejected()).isEqualTo(1);

            assertThat(sender.close()).isEqualTo(2);
            SenderClosedException closed = org.junit.jupiter.api.Assertions.assertThrows(SenderClosedException.class,
                    () -> sender.put(new byte[] {4}));
            assertThat(closed.getStackTrace()).isEmpty();
            assertThat(sender.isClosed()).isTrue();
            assertThat(p.server.isOpen()).isFalse();
        }
    }

    @Test
    void aSenderNamesItsConnection() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.create(p.server, 2);
            assertThat(sender).hasToString("QueueSender[" + p.server + "]");
            assertThat(sender.toString()).startsWith("QueueSender[Connection[id=");
            sender.close();
        }
    }

    @Test
    void optionsChangedAfterABuildApplyToTheSendersBuiltAfterIt() throws Exception {
        QueueSender.Options options = QueueSender.options().capacity(1);
        try (SocketPair a = SocketPair.open(); SocketPair b = SocketPair.open(); SocketPair c = SocketPair.open()) {
            QueueSender first = options.build(a.server);
            QueueSender second = options.capacity(3).build(b.server);
            QueueSender third = options.overflow(OverflowPolicy.DROP_OLDEST).build(c.server);
            for (QueueSender s : List.of(first, second, third)) {
                s.holdWrites();
            }

            first.put(new byte[] {1});
            assertThatThrownBy(() -> first.put(new byte[] {2})).isInstanceOf(QueueFullException.class);
            for (int i = 0; i < 3; i++) {
                second.put(new byte[] {(byte) i});
            }
            assertThatThrownBy(() -> second.put(new byte[] {3})).isInstanceOf(QueueFullException.class);
            for (int i = 0; i < 4; i++) {
                third.put(new byte[] {(byte) i});
            }
            assertThat(third.stats().dropped()).isEqualTo(1);
            assertThat(first.close() + second.close() + third.close()).isEqualTo(1 + 3 + 3);
        }
    }

    @Test
    void closeReportsTheDiscardedCountOnceEvenFromManyThreadsAtOnce() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.create(p.server, 100);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            for (int i = 0; i < 37; i++) {
                sender.put(new byte[] {(byte) i});
            }
            AtomicInteger discarded = new AtomicInteger();
            List<Throwable> errors = new CopyOnWriteArrayList<>();
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    try {
                        go.await();
                        discarded.addAndGet(sender.close());
                    } catch (Throwable t) {
                        errors.add(t);
                    }
                }));
            }
            go.countDown();
            for (Thread t : threads) {
                t.join();
            }
            assertThat(errors).isEmpty();
            assertThat(discarded).hasValue(37);
            assertThat(sender.stats().discarded()).isEqualTo(37);
            assertThat(sender.close()).isZero();
        }
    }

    /** Only BLOCK waits for room: a block timeout with another policy would be ignored, so it is refused, in either order. */
    @Test
    void aBlockTimeoutWithAPolicyOtherThanBlockIsRefusedNamingBoth() {
        assertThatThrownBy(() -> QueueSender.options().blockTimeout(Duration.ofMillis(200)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("blockTimeout: 200ms with the overflow policy FAIL"
                        + " (expected: overflow(OverflowPolicy.BLOCK) first: only BLOCK waits for room)");
        assertThatThrownBy(() -> QueueSender.options().overflow(OverflowPolicy.CLOSE_CONNECTION).blockTimeout(Duration.ofSeconds(2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("blockTimeout: 2s with the overflow policy CLOSE_CONNECTION");
        QueueSender.Options blocking = QueueSender.options().overflow(OverflowPolicy.BLOCK).blockTimeout(Duration.ofMillis(200));
        assertThatThrownBy(() -> blocking.overflow(OverflowPolicy.FAIL))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("overflow: FAIL with a blockTimeout of 200ms given (expected: BLOCK, the only policy that waits for room)");
        assertThat(blocking.overflow(OverflowPolicy.BLOCK)).isSameAs(blocking); // unchanged, still BLOCK
        assertThat(QueueSender.options().overflow(OverflowPolicy.FAIL).overflow(OverflowPolicy.BLOCK)).isNotNull();
    }

    @Test
    void aZeroCapacityIsRejectedInFavourOfAnExplicitUnboundedQueue() throws Exception {
        assertThatThrownBy(() -> QueueSender.options().capacity(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unbounded()");
        assertThatThrownBy(() -> SenderFactory.queue(0)).isInstanceOf(IllegalArgumentException.class);
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().unbounded().build(p.server);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            for (int i = 0; i < 10_000; i++) {
                sender.put(new byte[1]);
            }
            assertThat(sender.stats().pendingMessages()).isEqualTo(10_000);
            sender.close();
        }
    }

    @Test
    void keyedPutsOnANonConflatingSenderArePlainPutsAndBatchesAreUnsupported() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.create(p.server, 10);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            sender.put(1, new byte[] {1});
            sender.put(1, new byte[] {2});
            sender.put("1", new byte[] {3});
            assertThat(sender.stats().pendingMessages()).isEqualTo(3);
            assertThatThrownBy(() -> sender.putAllIntKeyed(List.of(new Sender.IntKeyed(1, new byte[0]))))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("conflating(true)");
            assertThatThrownBy(() -> sender.putAllStringKeyed(List.of()))
                    .isInstanceOf(UnsupportedOperationException.class);
            sender.close();
        }
    }

    @Test
    void tenThousandMessagesArriveInOrder() throws Exception {
        int count = 10_000;
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            conn.readInt();
            for (int i = 0; i < count; i++) {
                sender.put(ByteBuffer.allocate(8).putInt(4).putInt(i).array());
            }
        }, QueueSender.options().capacity(count)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(new byte[4]);
            for (int i = 0; i < count; i++) {
                assertThat(ByteBuffer.wrap(client.readFrame()).getInt()).isEqualTo(i);
            }
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aNullMessageOrKeyIsRejected() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.create(p.server, 10);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            assertThatThrownBy(() -> sender.put((byte[]) null)).isInstanceOf(NullPointerException.class);
            assertThatThrownBy(() -> sender.put((String) null, new byte[0])).isInstanceOf(NullPointerException.class);
            sender.close();
        }
    }
}
