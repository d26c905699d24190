package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.Connection;
import io.stcp.QueueSender;
import io.stcp.ServerConfig;
import io.stcp.TlsConfig;
import io.stcp.testing.Echo;
import io.stcp.testing.TestCerts;
import io.stcp.testing.TlsClient;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A reader blocked writing the replies it owes ({@code batchReplies}: its peer pipelines and reads
 * nothing, so the write waits for room for good) holds of its read buffers only the bytes the peer
 * sent that it has not taken, as one waiting in a put for room does ({@link ReadBufferPutWaitTest},
 * {@link TlsPutWaitBuffersTest}): its pooled read buffer goes back, and a TLS layer's encrypted
 * and decrypted input move to buffers of their size. Before, such a reader kept its read buffer
 * (64 KiB), and on TLS its layer's four records' buffer (68 KiB), for the whole write, none of it
 * counted by a budget: 1,000 TLS peers pipelining 40,000-byte frames that never read ran a 256 MiB
 * epoll server out of heap. On the JDK transport no drain is owed (its writes wait inside the
 * system call, and the send thread writes): there only the echo is checked. Every frame still
 * comes back whole once the peer reads.
 */
class OwedWriteWaitBuffersTest {
    private static final int FRAME = 40_004;
    private static final int FRAMES = 400;

    private final WideBuffersTaken wide = new WideBuffersTaken();
    private final FramingPeers peers = new FramingPeers();
    private final BlockingQueue<Connection> started = new LinkedBlockingQueue<>();
    private RealTcpServer server;
    private TlsClient tlsPeer;

    @AfterEach
    void tearDown() throws Exception {
        wide.close();
        if (server != null) {
            Echo.stop(server); // first: a writer blocked in the peer's socket ends with its connection
        }
        peers.close();
        if (tlsPeer != null) {
            tlsPeer.close();
        }
    }

    @Test
    void aReaderBlockedWritingWhatItOwesHoldsOnlyTheBytesLeftOfItsBuffer() throws Exception {
        start(Echo.loopback());
        Socket peer = peers.start(server.address().getPort(), FRAME - 4, FRAMES); // reads nothing until the test does
        RealConnection c = started();
        if (c.canSuspendReads()) {
            int[] seen = Awaitility.await().atMost(Duration.ofSeconds(30))
                    .until(() -> blockedInWrite(c, c.transport(), null), s -> s != null);
            assertThat(seen[1]).as("read buffer held while the owed write waits, %s bytes left (the old code: a"
                    + " pooled buffer, of 4 or 64 KiB)", seen[0]).isEqualTo(seen[0]);
        }
        echoed(peer.getInputStream(), peer);
    }

    @Test
    void aTlsReaderBlockedWritingWhatItOwesHoldsOnlyTheBytesItHasNotTaken() throws Exception {
        TestCerts certs = TestCerts.get();
        start(Echo.loopback().tls(TlsConfig.fromPem(certs.serverCert, certs.serverKey)));
        tlsPeer = TlsClient.connect(server.address(), certs.clientContext());
        peers.pipeline(tlsPeer.socket(), FRAME - 4, FRAMES); // reads nothing until the test does
        RealConnection c = started();
        if (c.canSuspendReads()) {
            TlsTransport tls = (TlsTransport) c.transport();
            int[] seen = Awaitility.await().atMost(Duration.ofSeconds(30))
                    .until(() -> blockedInWrite(c, tls.under(), tls), s -> s != null);
            assertThat(seen[1]).as("read buffer held while the owed write waits, %s bytes left", seen[0])
                    .isEqualTo(seen[0]);
            assertThat(seen[3]).as("encrypted input's buffer while the owed write waits, %s bytes not decrypted"
                    + " (the old code: a pooled one, of %s or %s bytes)", seen[2], TlsBuffers.BULK, TlsBuffers.RECORD)
                    .isEqualTo(seen[2]);
            assertThat(seen[5]).as("decrypted input's buffer while the owed write waits, %s bytes not read", seen[4])
                    .isEqualTo(seen[4]);
            assertThat(seen[7]).as("encrypted records' buffer while their write waits, %s bytes not sent (the old"
                    + " code: the pooled one they were wrapped into, of %s bytes)", seen[6], TlsBuffers.BULK)
                    .isEqualTo(seen[6]);
        }
        echoed(tlsPeer.socket().getInputStream(), tlsPeer.socket());
    }

    /**
     * Replies lent from the read buffer (a relay of frames it holds whole, written from there) are
     * among what a blocked owed write has yet to write, or still queued: the buffer stays where it
     * is while they do, and every frame comes back whole, header and body.
     */
    @Test
    void repliesLentFromTheBufferComeBackWholeThoughTheOwedWriteWaits() throws Exception {
        start(Echo.loopback(), true);
        Socket peer = peers.start(server.address().getPort(), FRAME - 4, FRAMES);
        RealConnection c = started();
        if (c.canSuspendReads()) {
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> blockedInWrite(c, c.transport(), null) != null);
            scribbleOverPooledBuffers(); // a buffer given back while a reply it holds waits to be written is one of them
        }
        DataInputStream in = new DataInputStream(peer.getInputStream());
        peer.setSoTimeout(30_000);
        byte[] body = new byte[FRAME - 4];
        for (int i = 0; i < FRAMES; i++) {
            assertThat(in.readInt()).as("frame %s's header", i).isEqualTo(FRAME - 4);
            in.readFully(body);
            assertThat(body).as("frame %s echoed", i).containsOnly((byte) i);
        }
    }

    /**
     * A relay lends its reply from the read buffer (written through the queue, never inline), then,
     * a batch's worth queued (here: its queue of two full), pays the drain it owes before it queues
     * it: that write waits for room in the socket, the replies lent before all written, with the
     * one just lent neither queued nor among the write's. The buffer stays where it is: the reply is
     * queued from it once the write is done. Before, the wait gave the buffer back to the pool, the
     * reply was queued from an array other readers fill (its header came out scribbled), and the
     * relay threw ("a lent reply must be of this buffer"), ending the connection.
     */
    @Test
    void aReplyLentButNotYetQueuedKeepsTheBufferWhileTheOwedWriteBeforeItWaits() throws Exception {
        int body = PackedChunks.MIN - 4; // the smallest relay lent from the buffer
        byte[] filler = new byte[60_000];
        java.util.Arrays.fill(filler, (byte) 0x5A);
        int frames = 200;
        server = new RealTcpServer(Echo.loopback().inboundBudget(32 << 20).outboundBudget(64 << 20)
                .writeTimeout(Duration.ZERO).frameTimeout(Duration.ofSeconds(60)).build(), (sender, conn) -> {
                    int n = conn.readInt();
                    sender.relay(conn, ByteBuffer.allocate(4).putInt(n).array(), n);
                    sender.put(filler); // then the relay's pay writes it, after the reply lent before
                }, QueueSender.options().capacity(2).maxBytes(64 << 20).writeInline(false).batchReplies(true)::build);
        server.onConnectionStart(s -> started.add(s.connection()));
        server.start();
        Socket peer = peers.start(server.address().getPort(), body, frames);
        RealConnection c = started();
        if (c.canSuspendReads()) {
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> blockedInWrite(c, c.transport(), null) != null);
            scribbleOverPooledBuffers();
        }
        DataInputStream in = new DataInputStream(peer.getInputStream());
        peer.setSoTimeout(30_000);
        byte[] relayed = new byte[body];
        byte[] put = new byte[filler.length];
        for (int i = 0; i < frames; i++) {
            assertThat(in.readInt()).as("frame %s's header", i).isEqualTo(body);
            in.readFully(relayed);
            assertThat(relayed).as("frame %s relayed", i).containsOnly((byte) i);
            in.readFully(put);
            assertThat(put).as("the put after frame %s", i).containsOnly((byte) 0x5A);
        }
    }

    /** Takes every pooled large buffer (and as many more), writes over it, and gives it back, as other readers would. */
    private static void scribbleOverPooledBuffers() {
        List<byte[]> taken = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            byte[] b = ReadBuffers.take(true);
            for (int j = 0; j < b.length; j++) {
                b[j] = (byte) -(j & 1); // 0, -1, 0, ...: no frame's body, all one byte
            }
            taken.add(b);
        }
        taken.forEach(ReadBuffers::give);
    }

    private void start(ServerConfig.Builder config) throws Exception {
        start(config, false);
    }

    /**
     * An echo server whose reader owes the drain of its replies, with room in its queue and the
     * budgets for all of them: it waits nowhere but in the write. Its replies are copies of the
     * bodies it read, none a view of its read buffer; or, if {@code relay}, the frames relayed,
     * header and body, lent from the buffer when it holds them whole.
     */
    private void start(ServerConfig.Builder config, boolean relay) throws Exception {
        server = new RealTcpServer(config.inboundBudget(32 << 20).outboundBudget(64 << 20).writeTimeout(Duration.ZERO)
                .frameTimeout(Duration.ofSeconds(60)).build(), (sender, conn) -> {
                    int n = conn.readInt();
                    if (relay) {
                        sender.relay(conn, ByteBuffer.allocate(4).putInt(n).array(), n);
                    } else {
                        sender.put(conn.readBytes(n));
                    }
                }, QueueSender.options().capacity(1024).maxBytes(64 << 20).writeInline(true).batchReplies(true)::build);
        server.onConnectionStart(s -> started.add(s.connection()));
        server.start();
    }

    private RealConnection started() throws InterruptedException {
        RealConnection c = (RealConnection) started.poll(10, TimeUnit.SECONDS);
        assertThat(c).isNotNull();
        return c;
    }

    /**
     * The bytes left in the reader's buffer and its size, and, with {@code tls}, the layer's
     * encrypted bytes held and their buffer's size, its decrypted bytes held and theirs, the
     * records being written's bytes left and theirs, looked at
     * while the reader waits for room in {@code socket} (the readiness's waiter, a volatile the
     * reader sets after it gave its buffers back, orders those writes before these looks); or null:
     * it does not wait there, or it read meanwhile.
     */
    private static int @Nullable [] blockedInWrite(RealConnection c, Transport socket, @Nullable TlsTransport tls) {
        Readiness readiness = ((ReadinessTransport) socket).readiness();
        Thread reader = c.readerThread();
        long read = c.input().bytesRead();
        if (reader == null || readiness.writeWaiter() != reader) {
            return null;
        }
        ConnectionInput input = c.input();
        int[] seen = tls == null ? new int[] {input.buffered(), input.bufferCapacity()}
                : tlsSeen(input, tls);
        return readiness.writeWaiter() == reader && input.bytesRead() == read ? seen : null;
    }

    private static int[] tlsSeen(ConnectionInput input, TlsTransport tls) {
        int[] records = tls.recordsInWrite();
        return new int[] {input.buffered(), input.bufferCapacity(), tls.encryptedHeld(), tls.readBufferCapacity(),
                tls.availableToRead(), tls.appBufferCapacity(), records == null ? -1 : records[0],
                records == null ? -1 : records[1]};
    }

    /** The peer reads now: every frame's body comes back whole, the bytes parked at each wait included. */
    private static void echoed(InputStream stream, Socket socket) throws IOException {
        socket.setSoTimeout(30_000);
        DataInputStream in = new DataInputStream(stream);
        byte[] body = new byte[FRAME - 4];
        for (int i = 0; i < FRAMES; i++) {
            in.readFully(body);
            assertThat(body).as("frame %s echoed", i).containsOnly((byte) i);
        }
    }
}
