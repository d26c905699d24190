package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.internal.DirectChunks;
import io.stcp.testing.Echo;
import io.stcp.testing.SocketPair;
import io.stcp.testing.TestClient;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The copying puts, the gathering put, and per-connection attributes. */
class SenderPutFormsTest {

    @Test
    void aReusedReadBufferIsSafeWithTheCopyingPuts() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().writeInline(false).build(p.server);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            byte[] reused = {1, 2, 3, 4};
            sender.put(reused, 1, 2);                 // 2 3
            ByteBuffer buffer = ByteBuffer.wrap(reused);
            sender.put(buffer);                       // 1 2 3 4
            assertThat(buffer.hasRemaining()).isFalse();
            java.util.Arrays.fill(reused, (byte) 9);  // the next read overwrites the buffer
            sender.resumeWrites();
            assertThat(sender.closeAfterFlush(Duration.ofSeconds(10))).isZero();
            assertThat(Channels.newInputStream(p.client).readAllBytes()).containsExactly(2, 3, 1, 2, 3, 4);
        }
    }

    @Test
    void aReusedLargeBufferIsCopiedOnceIntoDirectChunksAndIsSafeToReuse() throws Exception {
        DirectChunks pool = new DirectChunks(1 << 20);
        byte[] reused = new byte[200_000];
        new Random(5).nextBytes(reused);
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        expected.write(reused, 10, 150_000);
        expected.write(reused, 5, 100_000);
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().writeInline(false).directChunks(pool).build(p.server);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            sender.put(reused, 10, 150_000);
            ByteBuffer buffer = ByteBuffer.wrap(reused, 5, 100_000);
            sender.put(buffer);
            assertThat(buffer.hasRemaining()).isFalse();
            assertThat(pool.memory().usedBytes()).as("both held in chunks").isEqualTo((3 + 2) * (long) DirectChunks.CHUNK);
            java.util.Arrays.fill(reused, (byte) 9); // the next read overwrites the buffer
            sender.resumeWrites();
            assertThat(sender.closeAfterFlush(Duration.ofSeconds(10))).isZero();
            assertThat(Channels.newInputStream(p.client).readAllBytes()).isEqualTo(expected.toByteArray());
        }
        assertThat(pool.memory().usedBytes()).isZero();
    }

    @Test
    void aReaderThatReusesOneBufferGetsEveryReplyRightInlineOrQueued() throws Exception {
        int frames = 200;
        TcpServer server = TcpServer.create(Echo.loopback().build(), new ConnectionReader() {
            private final byte[] reused = new byte[70_000]; // one per server: a reader per connection, one connection

            @Override
            public void read(Sender sender, Connection conn) throws Exception {
                int n = conn.readInt();
                ByteBuffer.wrap(reused).putInt(n);
                conn.readFully(reused, 4, n);
                sender.put(reused, 0, 4 + n); // inline when nothing more is buffered, else queued
                java.util.Arrays.fill(reused, (byte) 0);
            }
        }, SenderFactory.requestResponse(1024)).start();
        Random random = new Random(3);
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        for (int i = 0; i < frames; i++) {
            byte[] body = new byte[i % 2 == 0 ? 1 + random.nextInt(100) : 65_000 + random.nextInt(5_000)];
            random.nextBytes(body);
            sent.writeBytes(Echo.frame(body));
        }
        try (TestClient client = TestClient.connect(server.address())) {
            byte[] wire = sent.toByteArray();
            // Pipelined: many replies find more input buffered and queue.
            assertThat(client.exchange(wire, wire.length)).isEqualTo(wire);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aGatheredMessageIsWrittenWholeInOrderAndCountsAsOne() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().capacity(3).writeInline(false).build(p.server);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            byte[] pong = "+PONG\r\n".getBytes(); // one immutable array, put again and again
            sender.putParts("$3\r\n".getBytes(), "abc".getBytes(), "\r\n".getBytes());
            sender.put(pong);
            sender.putParts(pong, pong);
            assertThat(sender.stats().pendingMessages()).isEqualTo(3);
            assertThat(sender.stats().pendingBytes()).isEqualTo(9 + 7 + 14);
            sender.resumeWrites();
            assertThat(sender.closeAfterFlush(Duration.ofSeconds(10))).isZero();
            assertThat(new String(Channels.newInputStream(p.client).readAllBytes()))
                    .isEqualTo("$3\r\nabc\r\n+PONG\r\n+PONG\r\n+PONG\r\n");
            assertThat(sender.stats().written()).isEqualTo(3);
        }
    }

    @Test
    void aGatheredMessageWithMorePartsThanOneWriteTakesIsWrittenWhole() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().writeInline(false).build(p.server);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            byte[][] parts = new byte[3000][];
            for (int i = 0; i < parts.length; i++) {
                parts[i] = new byte[] {(byte) i};
            }
            sender.putParts(parts);
            sender.resumeWrites();
            DataInputStream in = new DataInputStream(Channels.newInputStream(p.client));
            byte[] got = new byte[parts.length];
            in.readFully(got);
            for (int i = 0; i < parts.length; i++) {
                assertThat(got[i]).isEqualTo((byte) i);
            }
            sender.close();
        }
    }

    @Test
    void attributesAreTypedPerConnectionAndMadeOnce() throws Exception {
        AttributeKey<StringBuilder> session = AttributeKey.of("session");
        AttributeKey<Integer> count = AttributeKey.of("count");
        try (SocketPair a = SocketPair.open(); SocketPair b = SocketPair.open()) {
            assertThat(a.server.attribute(session)).isNull();
            StringBuilder first = a.server.attributeIfAbsent(session, StringBuilder::new);
            assertThat(a.server.attributeIfAbsent(session, StringBuilder::new)).isSameAs(first);
            assertThat(b.server.attribute(session)).isNull();
            b.server.attribute(count, null); // removing from a connection that never stored anything
            assertThat(b.server.attribute(count)).isNull();
            assertThatThrownBy(() -> b.server.attribute(null)).isInstanceOf(NullPointerException.class);
            assertThatThrownBy(() -> b.server.attribute(null, null)).isInstanceOf(NullPointerException.class);
            b.server.attribute(count, 7);
            assertThat(b.server.attribute(count)).isEqualTo(7);
            assertThat(b.server.attribute(session)).isNull();
            a.server.attribute(count, 3);
            assertThat(a.server.attribute(count)).isEqualTo(3);
            a.server.attribute(count, null);
            assertThat(a.server.attribute(count)).isNull();
            assertThat(a.server.remoteAddressText()).matches("127\\.0\\.0\\.1:\\d+");
            assertThat(a.server.metaInfo().remoteAddress()).isEqualTo(a.server.remoteAddressText());
        }
    }
}
