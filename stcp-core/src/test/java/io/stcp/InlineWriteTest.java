package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stcp.testing.Echo;
import io.stcp.testing.TestCerts;
import io.stcp.testing.TestClient;
import io.stcp.testing.TlsClient;
import java.io.DataInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code QueueSender.Options.writeInline(true)}: the reader writes its own replies when it can. */
class InlineWriteTest {

    private static byte[] message(int producer, int seq) {
        return ByteBuffer.allocate(12).putInt(8).putInt(producer).putInt(seq).array();
    }

    @RepeatedTest(5)
    void inlineAndQueuedWritesKeepEachProducersOrderAndNeverInterleave() throws Exception {
        int perProducer = 5000;
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            conn.readInt();
            // A second producer puts through the queue while the reader writes inline when it can.
            Thread other = Thread.ofVirtual().start(() -> {
                for (int i = 0; i < perProducer; i++) {
                    sender.put(message(2, i));
                }
            });
            for (int i = 0; i < perProducer; i++) {
                sender.put(message(1, i));
            }
            other.join();
        }, QueueSender.options().capacity(2 * perProducer).writeInline(true)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(new byte[4]);
            DataInputStream in = new DataInputStream(client.socket().getInputStream());
            int[] next = new int[3];
            for (int i = 0; i < 2 * perProducer; i++) {
                assertThat(in.readInt()).isEqualTo(8);
                int producer = in.readInt();
                assertThat(producer).isBetween(1, 2);
                assertThat(in.readInt()).isEqualTo(next[producer]++);
            }
            assertThat(next[1]).isEqualTo(perProducer);
            assertThat(next[2]).isEqualTo(perProducer);
        } finally {
            Echo.stop(server);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"put", "putParts"})
    void theReaderWritesTheReplyToItsLastBufferedRequestItself(String form) throws Exception {
        // Written inline, the put returns once the whole reply is in the socket; queued, at once.
        // 48 MiB is more than the two socket buffers can hold (the receiver's grows to tcp_rmem's
        // maximum, 6-32 MiB; the sender's to tcp_wmem's, 4 MiB), so while the client has read only
        // the reply's first bytes, an inline put cannot have returned.
        int body = 48 << 20;
        CountDownLatch returned = new CountDownLatch(1);
        TcpServer server = TcpServer.create(Echo.loopback().writeTimeout(Duration.ofSeconds(60)).build(),
                (sender, conn) -> {
                    conn.readInt();
                    if (form.equals("put")) {
                        sender.put(ByteBuffer.allocate(4 + body).putInt(body).array());
                    } else {
                        sender.putParts(ByteBuffer.allocate(4).putInt(body).array(), new byte[body]);
                    }
                    returned.countDown();
                    conn.readInt(); // until the client closes
                }, QueueSender.options().capacity(4).maxBytes(0).writeInline(true)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(new byte[4]);
            DataInputStream in = new DataInputStream(client.socket().getInputStream());
            assertThat(in.readInt()).isEqualTo(body);
            assertThat(returned.await(500, TimeUnit.MILLISECONDS)).as("put returned before its reply was read").isFalse();
            in.readFully(new byte[body]);
            assertThat(returned.await(10, TimeUnit.SECONDS)).as("put returned once its reply was read").isTrue();
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void anInlineWriteToAPeerThatNeverReadsFailsThroughTheWriteTimeout() throws Exception {
        AtomicReference<Throwable> readerError = new AtomicReference<>();
        BlockingQueue<Boolean> exited = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().writeTimeout(Duration.ofMillis(300)).build(),
                (sender, conn) -> {
                    conn.readInt();
                    try {
                        while (true) {
                            sender.put(new byte[1 << 20]);
                        }
                    } catch (SendException e) {
                        readerError.set(e);
                        throw e;
                    }
                }, QueueSender.options().capacity(4).writeInline(true)::build)
                .onConnectionExit(s -> exited.add(true)).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(new byte[4]);
            assertThat(exited.poll(20, TimeUnit.SECONDS)).isTrue();
            assertThat(readerError.get()).isInstanceOfAny(SenderClosedException.class, QueueFullException.class);
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * The reply lost with a failed inline write is accepted and then discarded, as one the send
     * thread fails to write: the put returns, the next one finds the sender closed, and the
     * sender's close reports it, as every discarded message is (the failure's own close of the
     * sender must not take the report for itself).
     */
    @Test
    void aReplyLostWithAFailedInlineWriteIsReportedByTheClose() throws Exception {
        CompletableFuture<long[]> counts = new CompletableFuture<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            conn.readInt();
            conn.channel().shutdownOutput(); // the reply's write fails
            try {
                sender.put(new byte[] {0, 0, 0, 1, 7});
                try {
                    sender.put(new byte[] {0, 0, 0, 1, 8});
                    counts.completeExceptionally(new AssertionError("the sender is still open after the failed write"));
                    return;
                } catch (SenderClosedException expected) {
                    // the failed write closed it
                }
                QueueSender q = (QueueSender) sender;
                counts.complete(new long[] {q.stats().discarded(), q.close()});
            } catch (Throwable t) {
                counts.completeExceptionally(t);
            }
        }, QueueSender.options().capacity(4).writeInline(true)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(new byte[4]);
            long[] c = counts.get(20, TimeUnit.SECONDS);
            assertThat(c[0]).as("discarded").isEqualTo(1);
            assertThat(c[1]).as("reported by close()").isEqualTo(1);
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * A peer that resets while the reader writes its reply inline ends the connection as
     * {@link CloseReason#PEER_RESET}, as the send thread's failed write does, not as a close by
     * the application (the inline write's failure closed the sender with no reason of its own).
     */
    @Test
    void aPeerResetDuringAnInlineWriteIsRecordedAsAReset() throws Exception {
        CountDownLatch requestRead = new CountDownLatch(1);
        CountDownLatch reset = new CountDownLatch(1);
        BlockingQueue<CloseReason> exits = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            conn.readInt();
            requestRead.countDown();
            reset.await();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (System.nanoTime() < deadline) { // the first write after the reset, or the one after its RST, fails
                sender.put(new byte[] {0, 0, 0, 1, 7}); // throws once a failed write has closed the sender
            }
        }, QueueSender.options().capacity(4).writeInline(true)::build)
                .onConnectionExit(s -> exits.add(s.connection().closeReason())).start();
        try {
            try (Socket client = new Socket()) {
                client.connect(server.address());
                client.getOutputStream().write(new byte[4]);
                assertThat(requestRead.await(10, TimeUnit.SECONDS)).isTrue();
                client.setSoLinger(true, 0); // the close sends RST
            }
            reset.countDown();
            assertThat(exits.poll(30, TimeUnit.SECONDS)).isEqualTo(CloseReason.PEER_RESET);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void repliesToPipelinedRequestsQueueInsteadOfWritingInline() throws Exception {
        // Two requests arrive in one segment. The reply to the first is put while the second is
        // still buffered, so it must queue (one write for the batch later), not be written by the
        // reader: written inline, 8 MiB to a peer that is not reading would block the reader until
        // the 30s write timeout and the second request would not be seen in time.
        BlockingQueue<Integer> seen = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().writeTimeout(Duration.ofSeconds(30)).build(),
                (sender, conn) -> {
                    int request = conn.readInt();
                    if (request == 1) {
                        sender.put(new byte[8 << 20]);
                    }
                    seen.add(request);
                }, QueueSender.options().capacity(4).maxBytes(0).writeInline(true)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(ByteBuffer.allocate(8).putInt(1).putInt(2).array());
            assertThat(seen.poll(10, TimeUnit.SECONDS)).isEqualTo(1);
            assertThat(seen.poll(5, TimeUnit.SECONDS)).as("second request read while the reply is queued").isEqualTo(2);
        } finally {
            Echo.stop(server);
        }
    }

    @ParameterizedTest(name = "tls={0}")
    @ValueSource(booleans = {false, true})
    void theReplyToARequestWhoseSuccessorHasArrivedQueuesInsteadOfWritingInline(boolean tls) throws Exception {
        // As above, but nothing of the second request is buffered: the read of the first fills
        // its array and leaves the second in the socket, or over TLS, the record of the second
        // in the TLS layer's buffer, with the socket emptied. Written inline, the reply to the
        // first would bring that peer's next request at once, ahead of other connections; here it
        // would also block the reader on a peer that is not reading.
        int first = 8192;
        // What the socket holds once both requests are in: over TLS 1.3, each in a record of its
        // own, with 22 bytes of header, content type and tag.
        int arrived = tls ? first + 22 + 4 + 22 : first + 4;
        CountDownLatch sent = new CountDownLatch(1);
        BlockingQueue<Integer> seen = new LinkedBlockingQueue<>();
        ServerConfig.Builder config = Echo.loopback().writeTimeout(Duration.ofSeconds(30));
        TestCerts certs = tls ? TestCerts.get() : null;
        if (tls) {
            config.tls(TlsConfig.fromPem(certs.serverCert, certs.serverKey));
        }
        TcpServer server = TcpServer.create(config.build(), (sender, conn) -> {
            sender.put(ByteBuffer.allocate(4).putInt(conn.readInt()).array()); // a round trip: all read
            sent.await();
            InputStream socket = conn.channel().socket().getInputStream();
            await().atMost(Duration.ofSeconds(10)).until(() -> socket.available() >= arrived);
            conn.readFully(new byte[first]);
            sender.put(new byte[8 << 20]);
            seen.add(conn.readInt());
            conn.readInt(); // until the client closes
        }, QueueSender.options().capacity(4).maxBytes(0).writeInline(true)::build).start();
        try (AutoCloseable client = tls ? TlsClient.connect(server.address(), certs.clientContext(), "TLSv1.3")
                : TestClient.connect(server.address())) {
            Socket socket = client instanceof TlsClient t ? t.socket() : ((TestClient) client).socket();
            OutputStream out = socket.getOutputStream();
            out.write(ByteBuffer.allocate(4).putInt(1).array());
            assertThat(new DataInputStream(socket.getInputStream()).readInt()).isEqualTo(1); // any handshake is over
            out.write(new byte[first]); // over TLS, a record
            out.write(ByteBuffer.allocate(4).putInt(2).array()); // and another
            sent.countDown();
            assertThat(seen.poll(15, TimeUnit.SECONDS)).as("second request read while the reply is queued").isEqualTo(2);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void otherThreadsNeverWriteInline() throws Exception {
        // A put from a thread other than the reader must not block even with inline writes on.
        BlockingQueue<Integer> queued = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            conn.readInt();
            Thread other = Thread.ofVirtual().start(() -> {
                int n = 0;
                try {
                    while (true) {
                        sender.put(new byte[1 << 20]);
                        n++;
                    }
                } catch (QueueFullException full) {
                    queued.add(n);
                }
            });
            other.join();
        }, QueueSender.options().capacity(64).maxBytes(0).writeInline(true)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(new byte[4]);
            Integer n = queued.poll(20, TimeUnit.SECONDS);
            assertThat(n).as("the other thread filled the queue without blocking").isNotNull().isGreaterThanOrEqualTo(64);
        } finally {
            Echo.stop(server);
        }
    }
}
