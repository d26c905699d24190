package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.Echo;
import io.stcp.testing.SocketPair;
import io.stcp.testing.TestClient;
import java.io.DataInputStream;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

class ConflationTest {

    private static QueueSender conflating(Connection c, int capacity) {
        return QueueSender.options().capacity(capacity).conflating(true).build(c);
    }

    /** Drains the queue through a real socket and returns the messages in the order written. */
    private static List<String> writeOut(SocketPair p, QueueSender sender) throws Exception {
        int pending = sender.stats().pendingMessages();
        sender.resumeWrites(); // the queue is written from now on
        List<String> out = new ArrayList<>();
        java.io.InputStream in = java.nio.channels.Channels.newInputStream(p.client);
        for (int i = 0; i < pending; i++) {
            int n = in.read();
            out.add(new String(in.readNBytes(n)));
        }
        sender.close();
        return out;
    }

    private static byte[] msg(String s) {
        byte[] b = new byte[1 + s.length()];
        b[0] = (byte) s.length();
        System.arraycopy(s.getBytes(), 0, b, 1, s.length());
        return b;
    }

    @Test
    void theLatestValueReplacesAQueuedOneInThePlaceOfTheFirst() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = conflating(p.server, 10);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            sender.put(1, msg("a1"));
            sender.put(msg("plain1"));
            sender.put(2, msg("b1"));
            sender.put(1, msg("a2"));
            sender.put(msg("plain2"));
            sender.put(1, msg("a3"));
            assertThat(sender.stats().conflated()).isEqualTo(2);
            assertThat(writeOut(p, sender)).containsExactly("a3", "plain1", "b1", "plain2");
        }
    }

    @Test
    void intAndStringKeysAreSeparateSpacesAndPlainPutsNeverConflate() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = conflating(p.server, 10);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            sender.put(1, msg("int"));
            sender.put("1", msg("str"));
            sender.put(msg("x"));
            sender.put(msg("x"));
            sender.put("1", msg("str2"));
            assertThat(writeOut(p, sender)).containsExactly("int", "str2", "x", "x");
        }
    }

    @Test
    void aKeyWrittenOutIsAppendedAgainNotReplaced() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = conflating(p.server, 10);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            sender.put(7, msg("v1"));
            assertThat(writeOut(p, sender)).containsExactly("v1");
        }
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = conflating(p.server, 10);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            sender.put(7, msg("v1"));
            sender.put(8, msg("w1"));
            sender.put(7, msg("v2"));
            assertThat(writeOut(p, sender)).containsExactly("v2", "w1");
        }
    }

    @Test
    void batchesAreAllOrNothingOnCapacity() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = conflating(p.server, 3);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            sender.put(1, msg("a"));
            sender.put(msg("p"));
            // 2 new keys but only 1 free slot: nothing goes in
            assertThatThrownBy(() -> sender.putAllIntKeyed(List.of(new Sender.IntKeyed(1, msg("a2")),
                    new Sender.IntKeyed(2, msg("b")), new Sender.IntKeyed(3, msg("c")))))
                    .isInstanceOf(QueueFullException.class);
            assertThat(sender.stats().pendingMessages()).isEqualTo(2);
            // 1 new key, 1 replacement, a duplicate inside the batch: fits
            sender.putAllIntKeyed(List.of(new Sender.IntKeyed(1, msg("a2")), new Sender.IntKeyed(2, msg("b1")),
                    new Sender.IntKeyed(2, msg("b2"))));
            sender.putAllStringKeyed(List.of(new Sender.StringKeyed("s", msg("not-room"))).subList(0, 0));
            assertThat(writeOut(p, sender)).containsExactly("a2", "p", "b2");
        }
    }

    @Test
    void aBatchUnderDropOldestRecountsKeysItDroppedAndNeverExceedsTheCapacity() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().capacity(2).conflating(true)
                    .overflow(OverflowPolicy.DROP_OLDEST).build(p.server);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            sender.put(1, msg("a"));
            sender.put(2, msg("b"));
            // Key 1 would conflate, key 3 needs a slot; dropping the oldest drops key 1 itself, so
            // the batch then needs two slots and key 2 must go too.
            sender.putAllIntKeyed(List.of(new Sender.IntKeyed(1, msg("x")), new Sender.IntKeyed(3, msg("y"))));
            assertThat(sender.stats().pendingMessages()).isEqualTo(2);
            assertThat(sender.stats().dropped()).isEqualTo(2);
            assertThat(writeOut(p, sender)).containsExactly("x", "y");
        }
    }

    @Test
    void aBatchThatCouldNeverFitIsRejectedUnderDropOldestWithoutDroppingAnything() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().capacity(2).conflating(true)
                    .overflow(OverflowPolicy.DROP_OLDEST).build(p.server);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            sender.put(1, msg("a"));
            sender.put(2, msg("b"));
            assertThatThrownBy(() -> sender.putAllIntKeyed(List.of(new Sender.IntKeyed(1, msg("x")),
                    new Sender.IntKeyed(2, msg("y")), new Sender.IntKeyed(3, msg("z")))))
                    .isInstanceOf(QueueFullException.class).hasMessageContaining("batch of 3 keys");
            assertThat(sender.stats().dropped()).isZero();
            assertThat(sender.stats().rejected()).isEqualTo(1);
            assertThat(writeOut(p, sender)).containsExactly("a", "b");
        }
    }

    @Test
    void aBatchUnderBlockRecountsKeysTheSendLoopWroteWhileItWaitedAndNeverExceedsTheCapacity() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().capacity(2).maxBytes(0).conflating(true).overflow(OverflowPolicy.BLOCK)
                    .blockTimeout(Duration.ofSeconds(30)).build(p.server);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            // Key 1's first value is too big for the socket buffers: the send loop takes it alone
            // (a batch stops at 256 KiB) and stays in its write until the client reads.
            byte[] big = new byte[4 << 20];
            Arrays.fill(big, (byte) 'B');
            sender.put(1, big);
            sender.put(2, msg("b"));
            AtomicInteger pendingAfterBatch = new AtomicInteger(-1);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread producer = Thread.ofVirtual().start(() -> {
                try {
                    sender.putAllIntKeyed(List.of(new Sender.IntKeyed(1, msg("x")), new Sender.IntKeyed(3, msg("y"))));
                    pendingAfterBatch.set(sender.stats().pendingMessages());
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            Awaitility.await().until(() -> producer.getState() == Thread.State.TIMED_WAITING);
            sender.resumeWrites(); // the queue is written from now on
            // The send loop has taken key 1 (and is stuck writing it): the batch must now find a
            // slot for key 1 as well, so it waits until key 2 is taken too.
            Awaitility.await().until(() -> sender.stats().pendingMessages() != 2);

            InputStream in = Channels.newInputStream(p.client);
            assertThat(in.readNBytes(big.length)).isEqualTo(big);
            List<String> rest = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                int n = in.read();
                rest.add(new String(in.readNBytes(n)));
            }
            producer.join(10_000);
            assertThat(failure.get()).isNull();
            assertThat(pendingAfterBatch.get()).as("queued right after the batch went in").isBetween(0, 2);
            assertThat(rest).containsExactly("b", "x", "y");
            sender.close();
        }
    }

    @RepeatedTest(5)
    void concurrentProducersNeverLoseTheLatestValueOfAKey() throws Exception {
        int keys = 20;
        int versions = 2000;
        int producers = 4;
        CountDownLatch produced = new CountDownLatch(producers);
        // Each producer owns keys k with k % producers == id and puts versions 1..N in order.
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            conn.readInt();
            for (int id = 0; id < producers; id++) {
                int me = id;
                Thread.ofVirtual().start(() -> {
                    for (int v = 1; v <= versions; v++) {
                        for (int k = me; k < keys; k += producers) {
                            sender.put(k, ByteBuffer.allocate(12).putInt(8).putInt(k).putInt(v).array());
                        }
                    }
                    sender.put(ByteBuffer.allocate(12).putInt(8).putInt(-1).putInt(me).array()); // done marker
                    produced.countDown();
                });
            }
        }, QueueSender.options().capacity(keys + producers).conflating(true)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.socket().setReceiveBufferSize(2048);
            client.sendRaw(new byte[4]);
            int[] last = new int[keys];
            int done = 0;
            DataInputStream in = new DataInputStream(client.socket().getInputStream());
            while (done < producers) {
                assertThat(in.readInt()).isEqualTo(8);
                int k = in.readInt();
                int v = in.readInt();
                if (k < 0) {
                    done++;
                    continue;
                }
                assertThat(v).as("versions of key %d only go up", k).isGreaterThan(last[k]);
                last[k] = v;
            }
            assertThat(produced.await(10, TimeUnit.SECONDS)).isTrue();
            for (int k = 0; k < keys; k++) {
                assertThat(last[k]).as("last value of key %d", k).isEqualTo(versions);
            }
        } finally {
            Echo.stop(server);
        }
    }
}
