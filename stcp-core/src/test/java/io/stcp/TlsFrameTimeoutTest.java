package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.ProxyHeaders;
import io.stcp.testing.TestCerts;
import io.stcp.testing.TlsClient;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLParameters;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The frame timeout over TLS: the bytes of a frame begun are bounded in time whichever layer holds
 * them — part of a TLS record, not yet decrypted, as much as part of a frame decrypted — as the
 * same partial frame on plain TCP is; a connection idle between frames is not.
 */
class TlsFrameTimeoutTest {
    /**
     * Half a second: ten times the trickle's pace below, and many times what a whole record takes
     * to cross loopback; the idle case waits three and a half of it.
     */
    private static final Duration FRAME_TIMEOUT = Duration.ofMillis(500);
    private static final InetSocketAddress CLIENT = new InetSocketAddress("192.0.2.9", 40000);
    private static final InetSocketAddress FRONTEND = new InetSocketAddress("198.51.100.2", 9443);

    private static TestCerts certs;
    private final BlockingQueue<CloseReason> ends = new LinkedBlockingQueue<>();

    @BeforeAll
    static void certificates() {
        certs = TestCerts.get();
    }

    /** A TLS echo server with a frame timeout of {@link #FRAME_TIMEOUT} (no first-frame or read timeout), its ends in {@link #ends}. */
    private TcpServer start(ServerConfig.Builder config) throws Exception {
        TlsConfig tls = TlsConfig.fromPem(certs.serverCert, certs.serverKey);
        return TcpServer.create(config.frameTimeout(FRAME_TIMEOUT).tls(tls).build(), Echo.READER, SenderFactory.queue(64))
                .onConnectionExit(s -> ends.add(s.connection().closeReason())).start();
    }

    /** Waits for the connection's end, at most 10 s, and checks it came at the frame timeout after {@code sentNanos}. */
    private void assertClosedAtTheFrameTimeout(long sentNanos) throws InterruptedException {
        CloseReason end = ends.poll(10, TimeUnit.SECONDS);
        long elapsed = System.nanoTime() - sentNanos;
        assertThat(end).as("closed by the frame timeout, as the same partial frame on plain TCP is")
                .isEqualTo(CloseReason.FRAME_TIMEOUT);
        assertThat(elapsed).as("not before the frame timeout").isGreaterThanOrEqualTo(FRAME_TIMEOUT.toNanos());
    }

    /** Sends the record of a frame but its last byte; returns when ({@code nanoTime}). */
    private static long sendARecordLackingItsLastByte(RawTlsClient client) throws Exception {
        byte[] record = client.record(Echo.frame(new byte[] {1, 2, 3}));
        long sent = System.nanoTime();
        client.write(Arrays.copyOf(record, record.length - 1));
        return sent;
    }

    @Test
    void aFirstFrameWhoseRecordLacksItsLastByteIsClosedAtTheFrameTimeout() throws Exception {
        TcpServer server = start(Echo.loopback());
        try (RawTlsClient client = RawTlsClient.connect(server, new byte[0])) {
            assertClosedAtTheFrameTimeout(sendARecordLackingItsLastByte(client));
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aRecordTrickledAByteAtATimeIsClosedAtTheFrameTimeout() throws Exception {
        TcpServer server = start(Echo.loopback());
        try (RawTlsClient client = RawTlsClient.connect(server, new byte[0])) {
            assertThat(client.roundTrip(new byte[] {9})).containsExactly(9); // the first frame is done
            byte[] record = client.record(Echo.frame(new byte[200]));
            CountDownLatch ended = new CountDownLatch(1);
            long sent = System.nanoTime();
            Thread trickle = Thread.ofVirtual().start(() -> {
                try {
                    // One byte every 50 ms: the record would take over 10 s, each byte well within the timeout.
                    for (int i = 0; i < record.length && !ended.await(50, TimeUnit.MILLISECONDS); i++) {
                        client.write(new byte[] {record[i]});
                    }
                } catch (IOException | InterruptedException e) {
                    // the server hung up
                }
            });
            try {
                assertClosedAtTheFrameTimeout(sent);
            } finally {
                ended.countDown();
                trickle.join();
            }
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void partOfARecordArrivingWithAWholeFrameIsClosedAtTheFrameTimeout() throws Exception {
        TcpServer server = start(Echo.loopback());
        try (RawTlsClient client = RawTlsClient.connect(server, new byte[0])) {
            assertThat(client.roundTrip(new byte[] {9})).containsExactly(9);
            // One write: a frame's whole record, then all but the last byte of the next frame's record.
            // The reader returns with the rest held below the decoder, where a suspension would not see it.
            byte[] whole = client.record(Echo.frame(new byte[] {4, 5}));
            byte[] next = client.record(Echo.frame(new byte[] {6, 7, 8}));
            long sent = System.nanoTime();
            byte[] both = Arrays.copyOf(whole, whole.length + next.length - 1);
            System.arraycopy(next, 0, both, whole.length, next.length - 1);
            client.write(both);
            assertThat(client.readFrame()).containsExactly(4, 5);
            assertClosedAtTheFrameTimeout(sent);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void behindAProxyHeaderARecordLackingItsLastByteIsClosedAtTheFrameTimeout() throws Exception {
        TcpServer server = start(Echo.loopback().proxyProtocol(ProxyProtocol.required("127.0.0.1/32")));
        try (RawTlsClient client = RawTlsClient.connect(server, ProxyHeaders.v1(CLIENT, FRONTEND))) {
            assertThat(client.roundTrip(new byte[] {9})).containsExactly(9);
            assertClosedAtTheFrameTimeout(sendARecordLackingItsLastByte(client));
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * A TLS 1.2 renegotiation is refused at its first record. The engine keeps the part of a
     * handshake message it has until the rest comes, where no layer sees it: a ClientHello split
     * over two records (here by a long ALPN list) whose first alone came was taken, nothing looked
     * held, no frame timeout ran, and the connection stayed, with up to 32 KiB in the engine, for
     * good (the refusal waited for the whole message).
     */
    @Test
    void aTls12RenegotiationSentInPartIsRefusedAtItsFirstRecord() throws Exception {
        TcpServer server = start(Echo.loopback());
        try (RawTlsClient client = RawTlsClient.connect(server, new byte[0], RawTlsClient::tls12WithALongAlpnList)) {
            assertThat(client.roundTrip(new byte[] {9})).containsExactly(9);
            client.write(client.firstRecordOfARenegotiation());
            assertThat(ends.poll(10, TimeUnit.SECONDS)).as("refused, not held").isEqualTo(CloseReason.PROTOCOL_ERROR);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aTlsConnectionIdleBetweenFramesOutlivesTheFrameTimeout() throws Exception {
        TcpServer server = start(Echo.loopback());
        try (TlsClient client = TlsClient.connect(server.address(), certs.clientContext())) {
            assertThat(client.roundTrip(new byte[] {1})).containsExactly(1);
            assertThat(ends.poll(FRAME_TIMEOUT.toMillis() * 7 / 2, TimeUnit.MILLISECONDS))
                    .as("no end in three and a half frame timeouts with no frame begun").isNull();
            assertThat(client.roundTrip(new byte[] {2, 3})).containsExactly(2, 3);
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * A close on the reader thread lingers while the peer sends a record in pieces, 2,000 bytes every
     * 40 ms (some 0.3 s for 16,000 bytes): the linger reads and drops the peer's bytes below the TLS
     * layer as they come, so the peer counts as sending until its record is whole, and the
     * connection ends once it is quiet, with no reset. Read through the TLS layer, whose read waits
     * for the whole record, the linger saw nothing for its 200 ms of quiet and closed with the
     * record still coming: the peer's next piece drew a reset.
     */
    @Test
    void aRecordTrickledDuringALingerDrawsNoReset() throws Exception {
        TlsConfig tls = TlsConfig.fromPem(certs.serverCert, certs.serverKey);
        CountDownLatch closing = new CountDownLatch(1);
        TcpServer server = TcpServer.create(Echo.loopback().tls(tls).build(), (sender, conn) -> {
            conn.readInt();
            closing.countDown();
            sender.closeAfterFlush(Duration.ofSeconds(10)); // on the reader thread: it lingers here
        }, SenderFactory.queue(64)).start();
        try (RawTlsClient client = RawTlsClient.connect(server, new byte[0])) {
            client.write(client.record(new byte[4]));
            assertThat(closing.await(10, TimeUnit.SECONDS)).isTrue();
            trickleARecord(client);
            client.socket.setSoTimeout(10_000);
            while (client.in.read() >= 0) {
                // the server's close_notify, then its end of stream: no reset
            }
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * A peer sends its last request and its {@code close_notify} together, and keeps its TCP side
     * open (as Python's {@code unwrap()} or a JDK socket's {@code shutdownOutput()} do), here
     * sending bytes past its end every 20 ms: the read that takes the request decrypts the
     * {@code close_notify} too, and the close on the reader thread that follows ends at once, the
     * peer's end of stream in hand. Before, the linger read and dropped below the TLS layer, past
     * that end, and waited for the peer to be quiet, which it never was: the whole linger, 2 s.
     */
    @Test
    void aCloseNotifyReadWithTheLastRequestEndsTheLingerAtOnce() throws Exception {
        TlsConfig tls = TlsConfig.fromPem(certs.serverCert, certs.serverKey);
        BlockingQueue<Long> closing = new LinkedBlockingQueue<>();
        BlockingQueue<Long> exits = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().tls(tls).build(), (sender, conn) -> {
            conn.readInt();
            closing.add(System.nanoTime());
            sender.closeAfterFlush(Duration.ofSeconds(10)); // on the reader thread: it lingers here
        }, SenderFactory.queue(64)).onConnectionExit(s -> exits.add(System.nanoTime())).start();
        try (RawTlsClient client = RawTlsClient.connect(server, new byte[0])) {
            byte[] request = client.record(new byte[4]);
            byte[] closeNotify = client.closeNotify();
            byte[] both = Arrays.copyOf(request, request.length + closeNotify.length);
            System.arraycopy(closeNotify, 0, both, request.length, closeNotify.length);
            client.write(both); // one segment: one read takes both records
            Thread peer = Thread.ofPlatform().name("peer").start(() -> {
                try {
                    for (int i = 0; i < 150 && exits.isEmpty(); i++) { // at most 3 s
                        client.write(new byte[100]); // never quiet
                        Thread.sleep(20); // the peer's pace, not a wait for the server
                    }
                } catch (IOException | InterruptedException e) {
                    // reset once the server closed: its bytes were past its end
                }
            });
            Long began = closing.poll(10, TimeUnit.SECONDS);
            Long ended = exits.poll(10, TimeUnit.SECONDS);
            peer.join(10_000);
            assertThat(began).isNotNull();
            assertThat(ended).isNotNull();
            assertThat(Duration.ofNanos(ended - began)).as("the close, the peer's end in hand")
                    .isLessThan(Duration.ofSeconds(1)); // a linger that waits for quiet took its whole 2 s
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * As above, with the close on another thread while the reader waits for the rest of a value,
     * and so for the rest of the record that holds it: the read takes the record's first piece
     * after the close began, which ends it (the value is not the reader's any more), and the
     * reader thread's end reads below TLS, so the peer counts as sending until its record is whole.
     * Before, on epoll, each piece began a new wait of the reader's, and the close, finding it
     * waiting for the rest of a value with nothing unread, took the peer for quiet after 200 ms
     * and reset it.
     */
    @Test
    void aRecordTrickledWhileACloseOnAnotherThreadLingersDrawsNoReset() throws Exception {
        recordTrickledWhileACloseOnAnotherThreadLingers(0);
    }

    /**
     * As above, with part of the record in the TLS layer before the close began. Before, the read
     * waited inside the layer for the rest of that record on the JDK transport too.
     */
    @Test
    void aRecordBegunBeforeACloseOnAnotherThreadAndTrickledDrawsNoReset() throws Exception {
        recordTrickledWhileACloseOnAnotherThreadLingers(500);
    }

    /**
     * As above, behind a PROXY header sent with the ClientHello: the TLS layer reads over the
     * bytes the PROXY layer read past its header ({@code PrefixTransport}), which passes the
     * close's end of waits on, and the linger reads below both.
     */
    @Test
    void behindAProxyHeaderARecordTrickledWhileACloseOnAnotherThreadLingersDrawsNoReset() throws Exception {
        recordTrickledWhileACloseOnAnotherThreadLingers(500, Echo.loopback().proxyProtocol(ProxyProtocol.required("127.0.0.1/32")),
                ProxyHeaders.v1(CLIENT, FRONTEND));
    }

    /** @param sentBefore how much of the record the peer sends before the close */
    private void recordTrickledWhileACloseOnAnotherThreadLingers(int sentBefore) throws Exception {
        recordTrickledWhileACloseOnAnotherThreadLingers(sentBefore, Echo.loopback(), new byte[0]);
    }

    /**
     * @param sentBefore how much of the record the peer sends before the close
     * @param preamble what the client sends before its handshake (a PROXY header)
     */
    private void recordTrickledWhileACloseOnAnotherThreadLingers(int sentBefore, ServerConfig.Builder config, byte[] preamble)
            throws Exception {
        try (ValueReader server = new ValueReader(config); RawTlsClient client = RawTlsClient.connect(server.server, preamble)) {
            client.write(client.record(ByteBuffer.allocate(4 + 1_000).putInt(17_000).array())); // 1,000 of 17,000 bytes
            byte[] record = client.record(new byte[16_000]); // the rest of the value
            client.write(Arrays.copyOf(record, sentBefore));
            Thread closer = server.closeOnAnotherThreadOnceWaiting(client);
            trickle(client, Arrays.copyOfRange(record, sentBefore, record.length - 1));
            assertThat(server.readEnded.getCount()).as("the reader's read ended as the record came, not once it was whole").isZero();
            client.write(Arrays.copyOfRange(record, record.length - 1, record.length));
            assertThat(client.in.read()).as("no reset after the end of stream").isEqualTo(-1);
            closer.join(10_000);
            assertThat(closer.isAlive()).isFalse();
            assertThat(server.end.poll(10, TimeUnit.SECONDS)).as("the close's reason").isEqualTo(CloseReason.CLOSED);
        }
    }

    /**
     * As above, with records without data (TLS 1.3 key updates) sent while the close lingers, then
     * the rest of the value: taking a record, with data or not, while a close runs ends the read, and
     * the reader thread's end reads below TLS, so the peer counts as sending. Before, the read took
     * such records without returning (the JDK transport waited on inside the layer; on epoll each
     * began a new wait of the reader's), and the close, finding it waiting for the rest of a value
     * with nothing unread, took the peer for quiet after 200 ms and reset it.
     */
    @Test
    void recordsWithoutDataWhileACloseOnAnotherThreadLingersDrawNoReset() throws Exception {
        try (ValueReader server = new ValueReader(Echo.loopback()); RawTlsClient client = RawTlsClient.connect(server.server, new byte[0])) {
            client.write(client.record(ByteBuffer.allocate(4 + 1_000).putInt(2_000).array())); // 1,000 of 2,000 bytes
            byte[][] keyUpdates = new byte[10][];
            for (int i = 0; i < keyUpdates.length; i++) {
                keyUpdates[i] = client.keyUpdate();
            }
            byte[] rest = client.record(new byte[1_000]); // under the keys of the last update
            Thread closer = server.closeOnAnotherThreadOnceWaiting(client);
            for (byte[] keyUpdate : keyUpdates) {
                client.write(keyUpdate);
                Thread.sleep(40); // the peer's pace, not a wait for the server: 400 ms in all
            }
            Awaitility.await("the reader's read ended by a record without data").atMost(Duration.ofSeconds(10))
                    .until(() -> server.readEnded.getCount() == 0); // the rest of the value never came
            client.write(rest);
            assertThat(client.in.read()).as("no reset after the end of stream").isEqualTo(-1);
            closer.join(10_000);
            assertThat(closer.isAlive()).isFalse();
            assertThat(server.end.poll(10, TimeUnit.SECONDS)).as("the close's reason").isEqualTo(CloseReason.CLOSED);
        }
    }

    /** A TLS server whose reader reads a value's length, then waits for the value. */
    private static final class ValueReader implements AutoCloseable {
        private final AtomicReference<Thread> reader = new AtomicReference<>();
        private final AtomicReference<Sender> sender = new AtomicReference<>();
        private final CountDownLatch readEnded = new CountDownLatch(1);
        private final BlockingQueue<CloseReason> end = new LinkedBlockingQueue<>();
        private final TcpServer server;

        ValueReader(ServerConfig.Builder config) throws Exception {
            TlsConfig tls = TlsConfig.fromPem(certs.serverCert, certs.serverKey);
            server = TcpServer.create(config.tls(tls).build(), (sender, conn) -> {
                int length = conn.readInt();
                this.sender.set(sender);
                reader.set(Thread.currentThread());
                try {
                    conn.readBytes(length); // waits for the rest
                } finally {
                    readEnded.countDown();
                }
            }, SenderFactory.queue(64)).onConnectionExit(s -> end.add(s.connection().closeReason())).start();
        }

        /**
         * Once the reader waits for the value, closes gracefully on a thread of its own, returned,
         * and reads what {@code client} receives up to the server's end of stream: its
         * {@code close_notify}, then its FIN. The close lingers then.
         */
        Thread closeOnAnotherThreadOnceWaiting(RawTlsClient client) throws IOException {
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> reader.get() != null
                    && (reader.get().getState() == Thread.State.WAITING || reader.get().getState() == Thread.State.TIMED_WAITING));
            Thread closer = Thread.ofPlatform().name("closer").start(() -> sender.get().closeAfterFlush(Duration.ofSeconds(10)));
            client.socket.setSoTimeout(10_000);
            while (client.in.read() >= 0) {
                // the server's close_notify, then its FIN
            }
            return closer;
        }

        @Override
        public void close() throws Exception {
            Echo.stop(server);
        }
    }

    /** Sends a record of 16,000 bytes in pieces, 2,000 bytes every 40 ms: some 0.3 s. */
    private static void trickleARecord(RawTlsClient client) throws Exception {
        trickle(client, client.record(new byte[16_000]));
    }

    /**
     * Sends {@code bytes} in pieces, 2,000 bytes every 40 ms: a fifth of the 200 ms of quiet after
     * which a lingering close takes the peer for done, and all of a record within a sixth of the
     * linger's 2 s, so that a loaded machine's slower pace stays inside both (at 500 bytes every
     * 25 ms a record took 0.8 s, and once, beside two other test runs, past the 2 s).
     */
    private static void trickle(RawTlsClient client, byte[] bytes) throws Exception {
        for (int off = 0; off < bytes.length; off += 2_000) {
            client.write(Arrays.copyOfRange(bytes, off, Math.min(bytes.length, off + 2_000)));
            Thread.sleep(40); // the peer's pace, not a wait for the server
        }
    }

    /**
     * A TLS client over a plain socket with its own {@link SSLEngine}, so that it can send records
     * in pieces. Reads time out after 10 s.
     */
    private static final class RawTlsClient implements AutoCloseable {
        private final Socket socket;
        private final SSLEngine engine;
        private final InputStream in;
        private final OutputStream out;
        private final int packetSize;
        private ByteBuffer netIn;  // write mode: received, not yet decrypted
        private ByteBuffer appIn;  // read mode: decrypted, not yet read

        private RawTlsClient(Socket socket, SSLEngine engine) throws IOException {
            this.socket = socket;
            this.engine = engine;
            this.in = socket.getInputStream();
            this.out = socket.getOutputStream();
            this.packetSize = engine.getSession().getPacketBufferSize();
            this.netIn = ByteBuffer.allocate(4 * packetSize);
            this.appIn = ByteBuffer.allocate(4 * engine.getSession().getApplicationBufferSize()).flip();
        }

        /** Connects, sends {@code preamble} in plain text (a PROXY header), then shakes hands. */
        static RawTlsClient connect(TcpServer server, byte[] preamble) throws Exception {
            return connect(server, preamble, engine -> {});
        }

        /** TLS 1.2, and a ClientHello of some 20 KiB, over two records: 80 ALPN names of 250 bytes. */
        static void tls12WithALongAlpnList(SSLEngine engine) {
            SSLParameters p = engine.getSSLParameters();
            p.setProtocols(new String[] {"TLSv1.2"});
            String[] names = new String[80];
            for (int i = 0; i < names.length; i++) {
                names[i] = String.format("p%03d", i) + "x".repeat(246);
            }
            p.setApplicationProtocols(names);
            engine.setSSLParameters(p);
        }

        /** As {@link #connect(TcpServer, byte[])}, with the engine set up by {@code setUp} first. */
        static RawTlsClient connect(TcpServer server, byte[] preamble, Consumer<SSLEngine> setUp) throws Exception {
            Socket socket = new Socket();
            try {
                socket.connect(new InetSocketAddress("127.0.0.1", server.address().getPort()), 10_000);
                socket.setSoTimeout(10_000);
                socket.setTcpNoDelay(true);
                SSLEngine engine = certs.clientContext().createSSLEngine("localhost", server.address().getPort());
                engine.setUseClientMode(true);
                setUp.accept(engine);
                RawTlsClient client = new RawTlsClient(socket, engine);
                client.handshake(preamble);
                return client;
            } catch (Exception e) {
                socket.close();
                throw e;
            }
        }

        /** @param preamble sent with the first flight, in one write: the server reads them together, as a proxy's often come */
        private void handshake(byte[] preamble) throws Exception {
            engine.beginHandshake();
            byte[] before = preamble;
            while (true) {
                switch (engine.getHandshakeStatus()) {
                    case NEED_TASK -> {
                        for (Runnable t; (t = engine.getDelegatedTask()) != null; ) {
                            t.run();
                        }
                    }
                    case NEED_WRAP -> {
                        byte[] flight = wrap(new byte[0]);
                        byte[] out = Arrays.copyOf(before, before.length + flight.length);
                        System.arraycopy(flight, 0, out, before.length, flight.length);
                        write(out);
                        before = new byte[0];
                    }
                    case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> unwrap();
                    default -> {
                        return;
                    }
                }
            }
        }

        /**
         * The first record of a renegotiation's ClientHello, not sent; the engine holds the rest
         * (the ClientHello is longer than a record).
         */
        byte[] firstRecordOfARenegotiation() throws IOException {
            engine.beginHandshake();
            byte[] flight = wrap(new byte[0]);
            int length = ((flight[3] & 0xFF) << 8) | (flight[4] & 0xFF);
            assertThat(flight[0]).as("a handshake record").isEqualTo((byte) 22);
            assertThat(engine.getHandshakeStatus()).as("more of the ClientHello to send")
                    .isEqualTo(SSLEngineResult.HandshakeStatus.NEED_WRAP);
            return Arrays.copyOf(flight, 5 + length);
        }

        /** A TLS 1.3 key update in one record, not sent; later records use the new keys. */
        byte[] keyUpdate() throws IOException {
            assertThat(engine.getSession().getProtocol()).isEqualTo("TLSv1.3");
            engine.beginHandshake();
            byte[] r = wrap(new byte[0]);
            assertThat(r.length).as("a key update record").isPositive();
            return r;
        }

        /** {@code plain} in one record, not sent. */
        byte[] record(byte[] plain) throws IOException {
            byte[] r = wrap(plain);
            assertThat(r.length).as("one record").isLessThanOrEqualTo(packetSize);
            return r;
        }

        /** The engine's {@code close_notify}, not sent; the engine sends nothing after it. */
        byte[] closeNotify() throws IOException {
            engine.closeOutbound();
            ByteBuffer dst = ByteBuffer.allocate(packetSize);
            SSLEngineResult r = engine.wrap(ByteBuffer.allocate(0), dst);
            assertThat(r.getStatus()).isEqualTo(SSLEngineResult.Status.CLOSED);
            return Arrays.copyOf(dst.array(), dst.position());
        }

        private byte[] wrap(byte[] plain) throws IOException {
            ByteBuffer dst = ByteBuffer.allocate(packetSize);
            SSLEngineResult r = engine.wrap(ByteBuffer.wrap(plain), dst);
            assertThat(r.getStatus()).isEqualTo(SSLEngineResult.Status.OK);
            assertThat(r.bytesConsumed()).isEqualTo(plain.length);
            return Arrays.copyOf(dst.array(), dst.position());
        }

        void write(byte[] bytes) throws IOException {
            if (bytes.length > 0) {
                out.write(bytes);
                out.flush();
            }
        }

        byte[] roundTrip(byte[] payload) throws IOException {
            write(record(Echo.frame(payload)));
            return readFrame();
        }

        byte[] readFrame() throws IOException {
            byte[] length = readDecrypted(4);
            return readDecrypted(ByteBuffer.wrap(length).getInt());
        }

        private byte[] readDecrypted(int n) throws IOException {
            byte[] b = new byte[n];
            int done = 0;
            while (done < n) {
                if (!appIn.hasRemaining()) {
                    unwrap();
                    continue;
                }
                int k = Math.min(n - done, appIn.remaining());
                appIn.get(b, done, k);
                done += k;
            }
            return b;
        }

        /** Decrypts one record into {@link #appIn}, reading the socket as needed. */
        private void unwrap() throws IOException {
            while (true) {
                netIn.flip();
                appIn.compact();
                SSLEngineResult r;
                try {
                    r = engine.unwrap(netIn, appIn);
                } finally {
                    appIn.flip();
                    netIn.compact();
                }
                switch (r.getStatus()) {
                    case OK -> {
                        for (Runnable t; (t = engine.getDelegatedTask()) != null; ) {
                            t.run(); // a post-handshake message (a session ticket)
                        }
                        return;
                    }
                    case BUFFER_UNDERFLOW -> {
                        int k = in.read(netIn.array(), netIn.position(), netIn.remaining());
                        if (k < 0) {
                            throw new EOFException("the server closed the connection");
                        }
                        netIn.position(netIn.position() + k);
                    }
                    default -> throw new IOException("unexpected unwrap: " + r);
                }
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
