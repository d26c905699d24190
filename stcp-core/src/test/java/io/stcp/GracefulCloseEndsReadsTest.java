package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * Once a graceful close has begun ({@code closeAfterFlush}), the application reads nothing more
 * of the peer's input, whichever thread closes: only the close's linger reads on, at most 1 MiB,
 * and drops it, while every reply queued before the close is written, then the FIN. A close on
 * another thread than the reader's (a worker it handed the request to, a kick from elsewhere) left
 * the reader reading and parsing everything a flooding peer sent, for the whole drain and linger;
 * and a reader that ended meanwhile made its connection's end discard the replies that close was
 * writing.
 *
 * <p>The reader reads frames in a loop, in one call, and goes on reading after it asked for the
 * close, as a careless reader does. The peer sends requests and a QUIT without reading; once the
 * close has begun (the sender takes no more) it floods, and reads its replies meanwhile.
 */
class GracefulCloseEndsReadsTest {
    private static final int REQUESTS = 8;
    private static final int REPLY = 512 << 10; // 4 MiB of replies: the close drains while the peer floods
    private static final int SMALL_BUFFER = 64 << 10;
    private static final long GIVE_UP = 64L << 20; // the flood stops here if the server never closes
    private static final byte[] QUIT = "QUIT".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    @Test
    void aReaderThatClosesAfterFlushItselfReadsNothingMore() throws Exception {
        floodAfterQuit(this::closeAfterFlush, false);
    }

    @Test
    void aCloseAfterFlushOnAnotherThreadEndsTheReadersInput() throws Exception {
        floodAfterQuit(sender -> Thread.ofVirtual().start(() -> closeAfterFlush(sender)), false);
    }

    @Test
    void aReaderThatWrapsTheClosesEndOfItsReadsEndsClosedNotFailed() throws Exception {
        // Its read ends before the close on the other thread has recorded its reason; carried out as
        // an UncheckedIOException, the exception is still the close's doing (before: FAILED, a WARN).
        floodAfterQuit(sender -> Thread.ofVirtual().start(() -> closeAfterFlush(sender)), true);
    }

    /** What closeAfterFlush returned. */
    private final BlockingQueue<Integer> discarded = new LinkedBlockingQueue<>();

    private void closeAfterFlush(Sender sender) {
        discarded.add(sender.closeAfterFlush(Duration.ofSeconds(20)));
    }

    /** {@code wrap}: the reader carries its read's failure out as an UncheckedIOException. */
    private void floodAfterQuit(Consumer<Sender> close, boolean wrap) throws Exception {
        AtomicLong readAfterQuit = new AtomicLong();
        AtomicReference<Throwable> failedAfterQuit = new AtomicReference<>();
        AtomicReference<Sender> senderOf = new AtomicReference<>();
        BlockingQueue<Connection> exits = new LinkedBlockingQueue<>();
        AtomicLong exitAt = new AtomicLong();
        ConnectionReader reader = (sender, conn) -> {
            boolean quit = false;
            while (true) {
                byte[] body;
                try {
                    body = conn.readBytes(conn.readInt());
                } catch (IOException e) {
                    if (quit) {
                        failedAfterQuit.compareAndSet(null, e);
                    }
                    if (wrap) {
                        throw new java.io.UncheckedIOException(e);
                    }
                    throw e;
                }
                if (quit) {
                    readAfterQuit.addAndGet(4 + body.length); // parsed after the application said the connection is over
                } else if (java.util.Arrays.equals(body, QUIT)) {
                    quit = true;
                    close.accept(sender);
                } else {
                    sender.put(reply(body));
                }
            }
        };
        TcpServer server = TcpServer.create(Echo.loopback().build(), reader, QueueSender.options().capacity(100).maxBytes(0)::build)
                .onConnectionStart(s -> {
                    senderOf.set(s);
                    smallBuffers(s);
                })
                .onConnectionExit(s -> {
                    exitAt.set(System.nanoTime());
                    exits.add(s.connection());
                })
                .start();
        try (Socket peer = connect(server)) {
            OutputStream out = requestsThenQuit(peer);
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> senderOf.get() != null && senderOf.get().isClosed());

            CompletableFuture<Long> flooded = new CompletableFuture<>();
            Thread flood = Thread.ofVirtual().start(() -> flooded.complete(flood(out)));
            try {
                DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(peer.getInputStream()));
                for (int i = 0; i < REQUESTS; i++) {
                    readReply(in, i);
                }
                assertThat(in.read()).as("the FIN after the last reply").isEqualTo(-1);
                long eofAt = System.nanoTime();

                Connection conn = exits.poll(20, TimeUnit.SECONDS);
                assertThat(conn).as("the connection's end").isNotNull();
                assertThat(readAfterQuit.get()).as("bytes the application read after it closed").isZero();
                assertThat(failedAfterQuit.get()).as("the reader's read after the close").isInstanceOf(ClosedChannelException.class);
                // The linger is 2 s at most; the margin is for a loaded machine.
                assertThat(Duration.ofNanos(exitAt.get() - eofAt)).isLessThan(Duration.ofSeconds(5));
                assertThat(conn.closeReason()).isEqualTo(CloseReason.CLOSED);
                assertThat(discarded.poll(20, TimeUnit.SECONDS)).as("closeAfterFlush's count").isZero();
                // The linger's 1 MiB, the socket buffers (Linux doubles them) and a read buffer; the
                // peer's whole allowance when the application read on.
                assertThat(flooded.get(20, TimeUnit.SECONDS)).isLessThan(8L << 20);
            } finally {
                peer.close(); // ends the flood if the server never did
                flood.join();
            }
        } finally {
            Echo.stop(server);
        }
    }

    /** The reply to request {@code body}: REPLY bytes, the request's byte first. */
    private static byte[] reply(byte[] body) {
        return ByteBuffer.allocate(4 + REPLY).putInt(REPLY).put(body).array();
    }

    private static void readReply(DataInputStream in, int i) throws IOException {
        assertThat(in.readInt()).as("reply %d's length", i).isEqualTo(REPLY);
        byte[] reply = new byte[REPLY];
        in.readFully(reply);
        assertThat(reply[0]).as("reply %d", i).isEqualTo((byte) i);
    }

    /** Sends the requests, then QUIT, without reading; the peer's output. */
    private static OutputStream requestsThenQuit(Socket peer) throws IOException {
        OutputStream out = peer.getOutputStream();
        for (int i = 0; i < REQUESTS; i++) {
            out.write(Echo.frame(new byte[] {(byte) i}));
        }
        out.write(Echo.frame(QUIT));
        out.flush();
        return out;
    }

    /**
     * Small socket buffers on the server's side (no autotuning to megabytes): most of the replies
     * wait in the queue while the peer does not read, and what the peer floods before its writes
     * fail is about what the server read.
     */
    private static void smallBuffers(Sender s) throws IOException {
        s.connection().channel().setOption(StandardSocketOptions.SO_RCVBUF, SMALL_BUFFER);
        s.connection().channel().setOption(StandardSocketOptions.SO_SNDBUF, SMALL_BUFFER);
    }

    /** A peer with small socket buffers, as the server's. */
    private static Socket connect(TcpServer server) throws IOException {
        Socket peer = new Socket();
        peer.setSendBufferSize(SMALL_BUFFER);
        peer.setReceiveBufferSize(SMALL_BUFFER);
        peer.setSoTimeout(20_000);
        peer.connect(new InetSocketAddress(server.address().getAddress(), server.address().getPort()));
        return peer;
    }

    /** Writes 1 KiB frames until the server's close fails a write; the bytes written. */
    private static long flood(OutputStream out) {
        long written = 0;
        byte[] frame = Echo.frame(new byte[1020]);
        try {
            while (written < GIVE_UP) {
                out.write(frame);
                written += frame.length;
            }
        } catch (IOException e) {
            // reset by the server's close, or closed here
        }
        return written;
    }

    /**
     * A reader that ends while a close on another thread still writes its replies — here its put,
     * after the close began, fails — must not cut that close short: the connection's end waits for
     * it. The end discarded what was queued, and closed the connection under the close.
     */
    @Test
    void aReaderThatEndsWhileACloseOnAnotherThreadDrainsLosesNoReply() throws Exception {
        // too late: SenderClosedException ends this reader
        readerEndsWhileACloseOnAnotherThreadDrains(sender -> sender.put(new byte[] {1}), CloseReason.CLOSED);
    }

    /**
     * A reader that fails of its own accord (a protocol error of its making, not one of its reads'
     * ends) while a close on another thread drains: its connection ends for that failure, logged
     * with its cause, as when no close runs — the close only records its reason when it is over, so
     * the reader's was known first — and still loses no reply. It ended CLOSED, its cause dropped:
     * the failure was nowhere to be seen.
     */
    @Test
    void aReaderThatFailsWhileACloseOnAnotherThreadDrainsEndsForItsFailure() throws Exception {
        java.net.ProtocolException bad = new java.net.ProtocolException("bad request after QUIT");
        Connection conn = readerEndsWhileACloseOnAnotherThreadDrains(sender -> {
            throw bad;
        }, CloseReason.PROTOCOL_ERROR);
        assertThat(conn.closeCause()).isSameAs(bad);
    }

    /** What the reader does once the close on another thread has begun; it ends the reader's call. */
    private interface AfterClose {
        void run(Sender sender) throws Exception;
    }

    /**
     * A reader that, on QUIT, has another thread closeAfterFlush and, once that close has begun,
     * does {@code afterClose}, which ends it: every reply queued before arrives, then the FIN, and
     * the connection ends for {@code reason}; the connection, ended.
     */
    private Connection readerEndsWhileACloseOnAnotherThreadDrains(AfterClose afterClose, CloseReason reason) throws Exception {
        CountDownLatch readerEnded = new CountDownLatch(1);
        BlockingQueue<Connection> exits = new LinkedBlockingQueue<>();
        ConnectionReader reader = (sender, conn) -> {
            byte[] body = conn.readBytes(conn.readInt());
            if (!java.util.Arrays.equals(body, QUIT)) {
                sender.put(reply(body));
                return;
            }
            Thread.ofVirtual().start(() -> closeAfterFlush(sender));
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(sender::isClosed);
            try {
                afterClose.run(sender);
            } finally {
                readerEnded.countDown();
            }
        };
        TcpServer server = TcpServer.create(Echo.loopback().build(), reader, QueueSender.options().capacity(100).maxBytes(0)::build)
                .onConnectionStart(GracefulCloseEndsReadsTest::smallBuffers)
                .onConnectionExit(s -> exits.add(s.connection()))
                .start();
        try (Socket peer = connect(server)) {
            requestsThenQuit(peer);
            assertThat(readerEnded.await(20, TimeUnit.SECONDS)).isTrue();

            DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(peer.getInputStream()));
            int replies = 0;
            try {
                while (true) {
                    readReply(in, replies);
                    replies++;
                }
            } catch (EOFException | java.net.SocketException end) {
                // the FIN after the last reply, or the reset of a close that cut them short
            }
            assertThat(replies).as("replies queued before the close").isEqualTo(REQUESTS);
            assertThat(discarded.poll(20, TimeUnit.SECONDS)).as("closeAfterFlush's count").isZero();
            Connection conn = exits.poll(20, TimeUnit.SECONDS);
            assertThat(conn).as("the connection's end").isNotNull();
            assertThat(conn.closeReason()).isEqualTo(reason);
            return conn;
        } finally {
            Echo.stop(server);
        }
    }
}
