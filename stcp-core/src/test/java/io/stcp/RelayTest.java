package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stcp.framing.CorruptFrameException;
import io.stcp.framing.FrameTooLongException;
import io.stcp.internal.DirectChunks;
import io.stcp.testing.Echo;
import io.stcp.testing.ProxyHeaders;
import io.stcp.testing.TestCerts;
import io.stcp.testing.TestClient;
import io.stcp.testing.TlsClient;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * {@link Sender#relay}: the bodies a reader forwards arrive whole and in order, whatever their size
 * and whether they had all arrived (packed off the heap, or lent from the read buffer when the
 * reader writes its replies) or not (read into an array); to the same connection or another, over
 * TLS too; and the pool's memory goes back once they are written.
 */
class RelayTest {
    /** Around every bound: none, short, packed from 4 KiB with the header, up to a chunk, and beyond. */
    private static final List<Integer> SIZES = List.of(0, 1, 4091, 4092, 4093, 16_380, 16_384, 30_000, 65_531, 65_532, 65_536, 300_000);
    /** Medium bodies only, from the shortest to the longest that is packed or lent with its header. */
    private static final List<Integer> MEDIUM = List.of(4092, 16_380, 30_000, 65_531, 8_000);

    private static byte[] body(int i, int size) {
        byte[] b = new byte[size];
        for (int k = 0; k < size; k++) {
            b[k] = (byte) (i * 31 + k * 7);
        }
        return b;
    }

    private static byte[] header(int length) {
        return ByteBuffer.allocate(4).putInt(length).array();
    }

    /**
     * Sends {@code wire} from another thread, then releases the reader ({@code written}): what the
     * kernel's buffers hold is all there before the first read.
     */
    private static void sendPipelined(TestClient client, byte[] wire, CountDownLatch written) {
        Thread.ofVirtual().start(() -> {
            try {
                client.sendRaw(wire);
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            written.countDown();
        });
    }

    /** Relays each frame back; the first failure of a relay is kept in {@code failure}. */
    private static ConnectionReader relayEcho(AtomicReference<Throwable> failure) {
        return (sender, conn) -> {
            int length = conn.readInt();
            try {
                sender.relay(conn, header(length), length);
            } catch (Exception e) {
                failure.compareAndSet(null, e);
                throw e;
            }
        };
    }

    /**
     * Closes the client and waits for the server's reader to end on the end of stream: the peer has
     * had every byte of the last reply before the relay that wrote it returns, and a stop that
     * interrupted that relay meanwhile would fail it (the JDK's channel reports the interrupt of a
     * write that had written all), a failure of the test's making.
     */
    private static void closeAndAwaitTheReadersEnd(AutoCloseable client, TcpServer server) throws Exception {
        client.close();
        await().atMost(Duration.ofSeconds(10)).until(() -> server.connectionCount() == 0);
    }

    /**
     * Whether large bodies are read into a pool with room: on epoll, whose module's own socket calls
     * keep a body in the kernel until it has all arrived; not on the JDK's transport; null where it
     * depends on timing (epoll through the JDK channel's calls, {@code io.stcp.epoll.socketCalls=false}:
     * only a body that happens to be all there is).
     */
    private static @Nullable Boolean readsIntoThePool() {
        if (!"epoll".equals(System.getProperty("io.stcp.transport"))) {
            return false;
        }
        return "false".equals(System.getProperty("io.stcp.epoll.socketCalls")) ? null : true;
    }

    /** Written messages are released by the send thread just after their write, so soon after the peer has them. */
    private static void everyChunkGoesBack(DirectChunks pool) {
        await().atMost(Duration.ofSeconds(10)).until(() -> pool.memory().usedBytes() == 0);
    }

    private static QueueSender.Options options(DirectChunks pool) {
        return QueueSender.options().capacity(1024).maxBytes(0).writeInline(true).directChunks(pool);
    }

    @Test
    void relayedBodiesComeBackWholeAndInOrderOneAtATimeAndPipelined() throws Exception {
        DirectChunks pool = new DirectChunks(16L << 20);
        CountDownLatch written = new CountDownLatch(1);
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            written.await(); // the pipelined round: everything waits in the kernel before the first read
            int length = conn.readInt();
            sender.relay(conn, header(length), length);
        }, options(pool)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            ByteArrayOutputStream wire = new ByteArrayOutputStream();
            for (int round = 0; round < 3; round++) {
                for (int i = 0; i < SIZES.size(); i++) {
                    wire.writeBytes(Echo.frame(body(round * 100 + i, SIZES.get(i))));
                }
            }
            sendPipelined(client, wire.toByteArray(), written);
            for (int round = 0; round < 3; round++) {
                for (int i = 0; i < SIZES.size(); i++) {
                    assertThat(client.readFrame()).as("round %d, frame %d", round, i).isEqualTo(body(round * 100 + i, SIZES.get(i)));
                }
            }

            for (int i = 0; i < SIZES.size(); i++) { // one in flight: written inline by the reader
                byte[] b = body(1000 + i, SIZES.get(i));
                assertThat(client.roundTrip(b)).as("round trip %d", i).isEqualTo(b);
            }
        } finally {
            Echo.stop(server);
        }
        everyChunkGoesBack(pool);
    }

    /**
     * A body of a chunk or more that is not buffered is read, once it has all arrived, straight from
     * the socket into the pool's chunks where the transport can (epoll), and written from there; the
     * JDK's transport reads it into an array, written inline without the pool. A pool too small for
     * it leaves it an array on either.
     */
    @Test
    void largeBodiesAreReadStraightIntoThePoolWhereTheTransportCan() throws Exception {
        for (long limit : new long[] {16L << 20, 2L * DirectChunks.CHUNK}) {
            // With its header the first is one chunk; the others need 5 and 16, more than the small pool has.
            List<Integer> sizes = limit > 2L * DirectChunks.CHUNK ? List.of(65_532, 300_000, 1_048_572) : List.of(300_000, 1_048_572);
            DirectChunks pool = new DirectChunks(limit);
            TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
                int length = conn.readInt();
                sender.relay(conn, header(length), length);
            }, options(pool)::build).start();
            try (TestClient client = TestClient.connect(server.address())) {
                for (int i = 0; i < sizes.size(); i++) {
                    byte[] b = body(i, sizes.get(i));
                    assertThat(client.roundTrip(b)).as("pool of %d bytes, body %d", limit, i).isEqualTo(b);
                }
            } finally {
                Echo.stop(server);
            }
            everyChunkGoesBack(pool);
            Boolean direct = limit > 2L * DirectChunks.CHUNK ? readsIntoThePool() : Boolean.FALSE;
            long lent = pool.chunksLent(); // not what it holds: idle chunks are freed after 200 ms in tests
            if (direct != null) {
                assertThat(lent > 0).as("pool of %d bytes lent %d chunks for the bodies", limit, lent).isEqualTo(direct);
            }
        }
    }

    /** The same behind a PROXY header sent with the first frame: once the bytes read past the header are served. */
    @Test
    void largeBodiesBehindAProxyHeaderAreReadStraightIntoThePoolToo() throws Exception {
        DirectChunks pool = new DirectChunks(16L << 20);
        TcpServer server = TcpServer.create(Echo.loopback().proxyProtocol(ProxyProtocol.required("127.0.0.1/32")).build(),
                (sender, conn) -> {
                    int length = conn.readInt();
                    sender.relay(conn, header(length), length);
                }, options(pool)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            byte[] first = body(0, 1000);
            client.sendRaw(ProxyHeaders.concat(ProxyHeaders.v1(new InetSocketAddress("192.0.2.7", 56324),
                    new InetSocketAddress("198.51.100.1", 443)), Echo.frame(first)));
            assertThat(client.readFrame()).isEqualTo(first);
            List<Integer> sizes = List.of(65_532, 300_000, 1_048_572);
            for (int i = 0; i < sizes.size(); i++) {
                byte[] b = body(i + 1, sizes.get(i));
                assertThat(client.roundTrip(b)).as("body %d", i).isEqualTo(b);
            }
            // A body is read into the pool once it has all arrived, which needs a receive buffer
            // that holds it; on a loaded machine the kernel may not have grown it yet for the first
            // ones. A few more bodies give it the time (none would, were the prefix in the way).
            for (int i = 0; i < 5 && Boolean.TRUE.equals(readsIntoThePool()) && pool.chunksLent() == 0; i++) {
                byte[] b = body(10 + i, 1_048_572);
                assertThat(client.roundTrip(b)).as("extra body %d", i).isEqualTo(b);
            }
        } finally {
            Echo.stop(server);
        }
        everyChunkGoesBack(pool);
        Boolean direct = readsIntoThePool();
        if (direct != null) {
            assertThat(pool.chunksLent() > 0).as("chunks used").isEqualTo(direct);
        }
    }

    @Test
    void mediumBodiesThatHaveArrivedShareChunksOffTheHeap() throws Exception {
        DirectChunks pool = new DirectChunks(16L << 20);
        CountDownLatch written = new CountDownLatch(1);
        int count = 40;
        int size = 16_380; // 4 to a chunk with their headers
        AtomicInteger arrived = new AtomicInteger(); // bodies buffered whole when relayed
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            written.await();
            int length = conn.readInt();
            if (conn.buffered() >= length) {
                arrived.incrementAndGet();
            }
            sender.relay(conn, header(length), length);
        }, options(pool)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            ByteArrayOutputStream wire = new ByteArrayOutputStream();
            for (int i = 0; i < count; i++) {
                wire.writeBytes(Echo.frame(body(i, size)));
            }
            client.sendRaw(wire.toByteArray()); // 640 KiB: the kernel's buffers on loopback hold it
            written.countDown();
            for (int i = 0; i < count; i++) {
                assertThat(client.readFrame()).as("frame %d", i).isEqualTo(body(i, size));
            }
        } finally {
            Echo.stop(server);
        }
        // A transport that reads into large buffers (epoll) has whole bodies buffered; the JDK's
        // reads into 4 KiB buffers, where a body of 16 KiB never is, and stays an array.
        if ("epoll".equals(System.getProperty("io.stcp.transport"))) {
            assertThat(arrived.get()).as("bodies buffered whole").isPositive();
        }
        // Nothing else here is held off the heap (arrays below a chunk stay arrays when put): so
        // this is the packed bodies, at most one chunk per four of them.
        // Whether it was used, by the chunks it lent (what it holds may be trimmed after 200 ms in
        // tests); how much, by what it holds, which a trim only lowers.
        long lent = pool.chunksLent();
        assertThat(lent > 0).as("packed (%d chunks lent) exactly when bodies were buffered whole (%d)", lent, arrived.get())
                .isEqualTo(arrived.get() > 0);
        assertThat(pool.memory().heldBytes()).isLessThanOrEqualTo((long) (count + 3) / 4 * DirectChunks.CHUNK);
        everyChunkGoesBack(pool);
    }

    @Test
    void repliesWrittenByTheReaderGoFromItsReadBufferWithoutACopy() throws Exception {
        DirectChunks pool = new DirectChunks(16L << 20);
        CountDownLatch written = new CountDownLatch(1);
        int count = 40;
        AtomicInteger arrived = new AtomicInteger();
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            written.await();
            int length = conn.readInt();
            if (conn.buffered() >= length) {
                arrived.incrementAndGet();
            }
            sender.relay(conn, header(length), length);
        }, options(pool).batchReplies(true)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            ByteArrayOutputStream wire = new ByteArrayOutputStream();
            for (int i = 0; i < count; i++) {
                wire.writeBytes(Echo.frame(body(i, MEDIUM.get(i % MEDIUM.size()))));
            }
            sendPipelined(client, wire.toByteArray(), written);
            for (int i = 0; i < count; i++) {
                assertThat(client.readFrame()).as("frame %d", i).isEqualTo(body(i, MEDIUM.get(i % MEDIUM.size())));
            }
        } finally {
            Echo.stop(server);
        }
        // Where the reader writes its replies (epoll; on the JDK's transport a send thread does,
        // and a medium body that arrived is packed): bodies that had arrived would be packed into
        // the pool, as above, if they were not lent; the others (not all there) are read into arrays.
        if ("epoll".equals(System.getProperty("io.stcp.transport"))) {
            assertThat(arrived.get()).as("bodies buffered whole").isPositive();
            assertThat(pool.chunksLent()).as("nothing put off the heap").isZero();
        }
        everyChunkGoesBack(pool);
    }

    @Test
    void aReplyLentBehindAnotherThreadsLongMessageIsWrittenBeforeTheReadBufferIsReused() throws Exception {
        DirectChunks pool = new DirectChunks(16L << 20);
        CountDownLatch written = new CountDownLatch(1);
        int count = 30;
        int size = 16_380;
        byte[][] push = new byte[1 + 1100][]; // more buffers than one write takes: the drain's first batch ends before it
        push[0] = header(push.length - 1);
        for (int i = 1; i < push.length; i++) {
            push[i] = new byte[] {(byte) i};
        }
        AtomicInteger frames = new AtomicInteger();
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            written.await();
            int length = conn.readInt();
            sender.relay(conn, header(length), length);
            if (frames.incrementAndGet() % 3 == 1) { // queued behind that reply, ahead of the next
                Thread.ofVirtual().start(() -> sender.putParts(push)).join();
            }
        }, options(pool).batchReplies(true)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            ByteArrayOutputStream wire = new ByteArrayOutputStream();
            for (int i = 0; i < count; i++) {
                wire.writeBytes(Echo.frame(body(i, size)));
            }
            client.sendRaw(wire.toByteArray()); // 480 KiB: the kernel's buffers on loopback hold it
            written.countDown();
            byte[] pushed = new byte[push.length - 1];
            for (int i = 1; i < push.length; i++) {
                pushed[i - 1] = push[i][0];
            }
            for (int i = 0; i < count; i++) {
                assertThat(client.readFrame()).as("frame %d", i).isEqualTo(body(i, size));
                if (i % 3 == 0) {
                    assertThat(client.readFrame()).as("push after frame %d", i).isEqualTo(pushed);
                }
            }
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aReplyHeaderLongerThanTheRequestsPrefixNeverOverwritesTheReplyLentBeforeIt() throws Exception {
        DirectChunks pool = new DirectChunks(16L << 20);
        CountDownLatch written = new CountDownLatch(1);
        int count = 24;
        int size = 8_000;
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            written.await();
            int length = conn.readInt(); // a 4-byte prefix in, an 8-byte header out: the tag, then the body
            sender.relay(conn, ByteBuffer.allocate(8).putInt(length + 4).putInt(~length).array(), length);
        }, options(pool).batchReplies(true)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            ByteArrayOutputStream wire = new ByteArrayOutputStream();
            for (int i = 0; i < count; i++) {
                wire.writeBytes(Echo.frame(body(i, size + i)));
            }
            client.sendRaw(wire.toByteArray());
            written.countDown();
            for (int i = 0; i < count; i++) {
                ByteBuffer expected = ByteBuffer.allocate(4 + size + i).putInt(~(size + i)).put(body(i, size + i));
                assertThat(client.readFrame()).as("frame %d", i).isEqualTo(expected.array());
            }
        } finally {
            Echo.stop(server);
        }
        everyChunkGoesBack(pool);
    }

    @Test
    void relayedBodiesComeBackWholeOverTls() throws Exception {
        DirectChunks pool = new DirectChunks(16L << 20);
        TestCerts certs = TestCerts.get();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        TcpServer server = TcpServer.create(Echo.loopback().tls(TlsConfig.fromPem(certs.serverCert, certs.serverKey)).build(),
                relayEcho(failure), options(pool)::build).start();
        try (TlsClient client = TlsClient.connect(server.address(), certs.clientContext(), "TLSv1.3")) {
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    for (int i = 0; i < SIZES.size(); i++) {
                        client.sendFrame(body(i, SIZES.get(i)));
                    }
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            for (int i = 0; i < SIZES.size(); i++) {
                assertThat(client.readFrame()).as("frame %d", i).isEqualTo(body(i, SIZES.get(i)));
            }
            writer.join();
            closeAndAwaitTheReadersEnd(client, server);
        } finally {
            Echo.stop(server);
        }
        assertThat(failure.get()).isNull();
        everyChunkGoesBack(pool);
    }

    @Test
    void aReaderRelaysToAnotherConnection() throws Exception {
        DirectChunks pool = new DirectChunks(16L << 20);
        AtomicReference<Sender> target = new AtomicReference<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            int length = conn.readInt();
            if (length < 0) { // the target announces itself, then only waits
                target.set(sender);
                conn.readInt();
                return;
            }
            target.get().relay(conn, header(length), length);
        }, options(pool)::build).start();
        try (TestClient to = TestClient.connect(server.address()); TestClient from = TestClient.connect(server.address())) {
            to.sendRaw(header(-1));
            await().atMost(Duration.ofSeconds(10)).until(() -> target.get() != null);
            for (int i = 0; i < SIZES.size(); i++) {
                from.sendFrame(body(i, SIZES.get(i)));
            }
            for (int i = 0; i < SIZES.size(); i++) {
                assertThat(to.readFrame()).as("frame %d", i).isEqualTo(body(i, SIZES.get(i)));
            }
        } finally {
            Echo.stop(server);
        }
        everyChunkGoesBack(pool);
    }

    @Test
    void packedBodiesGoBackToThePoolWhenAPeerThatReadsNothingFillsTheQueue() throws Exception {
        DirectChunks pool = new DirectChunks(64L << 20);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(), relayEcho(failure),
                QueueSender.options().capacity(8).readerBackpressure(false).directChunks(pool)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    for (int i = 0; i < 1000; i++) { // 16 MiB: far more than the sockets' buffers hold
                        client.sendFrame(body(i, 16_380));
                    }
                } catch (Exception e) {
                    // the server closed the connection
                }
            });
            await().atMost(Duration.ofSeconds(20)).until(() -> failure.get() instanceof QueueFullException);
            await().atMost(Duration.ofSeconds(20)).until(() -> pool.memory().usedBytes() == 0);
            assertThat(client.awaitClosedByServer()).isTrue();
            writer.join();
        } finally {
            Echo.stop(server);
        }
        everyChunkGoesBack(pool);
    }

    @Test
    void aLargeBodyStillArrivingRunsIntoNoReadTimeoutWhileItsPeerKeepsSending() throws Exception {
        // A body of a chunk and a little more: its rest is at most a large read buffer's worth, so
        // it is read as it comes, as an array would be, and not waited for in one wait of its own,
        // which the pieces would not end (epoll's low-water mark). The pieces come over 1.5 s, one
        // every 150 ms; the read timeout is 1 s: one wait for them all would outlast it by half.
        DirectChunks pool = new DirectChunks(16L << 20);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        ConnectionReader reader = (sender, conn) -> {
            conn.readTimeout(Duration.ofSeconds(1));
            relayEcho(failure).read(sender, conn);
        };
        TcpServer server = TcpServer.create(Echo.loopback().build(), reader, options(pool)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            byte[] body = body(1, DirectChunks.CHUNK + 64);
            byte[] wire = ByteBuffer.allocate(4 + body.length).put(header(body.length)).put(body).array();
            int at = 4 + 20_000;
            client.sendRaw(Arrays.copyOfRange(wire, 0, at));
            int piece = (wire.length - at + 9) / 10;
            for (; at < wire.length; at += piece) {
                Thread.sleep(150);
                client.sendRaw(Arrays.copyOfRange(wire, at, Math.min(at + piece, wire.length)));
            }
            assertThat(client.readFrame()).isEqualTo(body);
            closeAndAwaitTheReadersEnd(client, server);
        } finally {
            Echo.stop(server);
        }
        assertThat(failure.get()).isNull();
        everyChunkGoesBack(pool);
    }

    @Test
    void aBodyCutShortByTheEndOfStreamQueuesNothing() throws Exception {
        DirectChunks pool = new DirectChunks(16L << 20);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(), relayEcho(failure), options(pool)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(header(10_000));
            client.sendRaw(body(0, 5_000));
            client.socket().shutdownOutput();
            assertThat(client.socket().getInputStream().read()).as("nothing came back").isEqualTo(-1);
        } finally {
            Echo.stop(server);
        }
        assertThat(failure.get()).isInstanceOf(EOFException.class);
        everyChunkGoesBack(pool);
    }
    /**
     * A relay's length is most often one the peer sent, as a {@code readBytes} length is: a negative
     * one or one beyond the largest array is the peer's protocol error and ends the connection as
     * {@link CloseReason#PROTOCOL_ERROR}, with the exception {@code Sender.relay} names.
     */
    @Test
    void aLengthThatCannotBeEndsTheConnectionAsAProtocolError() throws Exception {
        for (int length : new int[] {-1, Integer.MAX_VALUE}) {
            BlockingQueue<Connection> ends = new LinkedBlockingQueue<>();
            TcpServer server = TcpServer.create(Echo.loopback().build(),
                            (sender, conn) -> sender.relay(conn, header(conn.readInt()), length), SenderFactory.queue(8))
                    .onConnectionExit(s -> ends.add(s.connection()))
                    .start();
            try (Socket peer = new Socket(server.address().getAddress(), server.address().getPort())) {
                peer.getOutputStream().write(new byte[] {0, 0, 0, 1, 7});
                Connection ended = ends.poll(20, TimeUnit.SECONDS);
                assertThat(ended).as("length %d: ended within 20 s", length).isNotNull();
                assertThat(ended.closeReason()).as("length %d", length).isEqualTo(CloseReason.PROTOCOL_ERROR);
                assertThat(ended.closeCause()).as("length %d", length)
                        .isInstanceOf(length < 0 ? CorruptFrameException.class : FrameTooLongException.class);
            } finally {
                Echo.stop(server);
            }
        }
    }
}
