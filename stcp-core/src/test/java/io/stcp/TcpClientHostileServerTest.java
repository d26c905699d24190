package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.stcp.framing.FrameTooLongException;
import io.stcp.testing.TestCerts;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The client against servers that misbehave on purpose: plain loopback sockets the test drives,
 * not stcp servers. Each must cost the client no more than its config allows.
 */
class TcpClientHostileServerTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    private TcpClient client;
    private HostileServer server;

    @AfterEach
    void stop() throws Exception {
        if (client != null) {
            client.close();
            assertThat(client.awaitTermination(WAIT)).isTrue();
        }
        if (server != null) {
            server.close();
        }
    }

    /** What the server does with each connection it accepts, on a thread of its own. */
    @FunctionalInterface
    private interface Behaviour {
        void serve(Socket s) throws IOException, InterruptedException;
    }

    /** A loopback server that accepts and does {@link Behaviour} with each connection; closes them all at the end. */
    private static final class HostileServer implements AutoCloseable {
        private final ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        private final List<Socket> accepted = new ArrayList<>(); // guarded by itself
        private final List<Thread> threads = new ArrayList<>();  // guarded by accepted
        private final Thread acceptor;

        HostileServer(Behaviour behaviour) throws IOException {
            acceptor = Thread.ofPlatform().name("hostile-accept").start(() -> {
                while (true) {
                    Socket s;
                    try {
                        s = listener.accept();
                    } catch (IOException closed) {
                        return;
                    }
                    synchronized (accepted) {
                        accepted.add(s);
                        threads.add(Thread.ofPlatform().name("hostile-conn").start(() -> {
                            try {
                                behaviour.serve(s);
                            } catch (IOException | InterruptedException e) {
                                // the client went away, or the test ended
                            }
                        }));
                    }
                }
            });
        }

        String address() {
            return "127.0.0.1:" + listener.getLocalPort();
        }

        @Override
        public void close() throws Exception {
            listener.close();
            acceptor.join();
            synchronized (accepted) {
                for (Socket s : accepted) {
                    s.close();
                }
                for (Thread t : threads) {
                    t.interrupt();
                }
            }
            for (Thread t : threads) {
                t.join();
            }
        }
    }

    /**
     * The server announces a frame of 1,000 bytes and sends one every 100 ms (the whole frame would
     * take 100 s): the client's frameTimeout ends the connection, as a server's does a client's.
     */
    @Test
    void aServerThatTricklesAFrameIsDroppedAtTheClientsFrameTimeout() throws Exception {
        server = new HostileServer(s -> {
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            // Paced by a read of 100 ms, which also sees the client's end: the trickle stops there,
            // as a server would whose reads see it. The client lingers for a peer still sending,
            // which would only add its linger to the test.
            s.setSoTimeout(100);
            out.write(new byte[] {0, 0, 0x03, (byte) 0xE8}); // 1,000 bytes follow
            for (int i = 0; i < 200; i++) {
                out.write('x');
                out.flush();
                try {
                    if (in.read() < 0) {
                        return;
                    }
                } catch (SocketTimeoutException pace) {
                    // the client sends nothing: go on
                }
            }
        });
        CompletableFuture<CloseReason> ended = new CompletableFuture<>();
        long start = System.nanoTime();
        client = TcpClient.create(ClientConfig.builder(server.address()).frameTimeout(Duration.ofMillis(500))
                                .reconnectDelay(Duration.ofMinutes(1)).reconnectMaxDelay(Duration.ofMinutes(1)).build(),
                        (sender, conn) -> conn.readBytes(conn.readInt()), SenderFactory.queue(8))
                .onDisconnect((sender, reason) -> ended.complete(reason))
                .start();
        assertThat(ended.get(15, TimeUnit.SECONDS)).isEqualTo(CloseReason.FRAME_TIMEOUT);
        // Well before the trickle's end (200 paces of 100 ms), with room for a loaded machine's
        // start: it took 5.6 s once under a load of 14 on two cores.
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(15));
    }

    /**
     * The server announces a frame longer than the client's inbound budget (by default a quarter
     * of the heap: 256 MiB under the tests' 1 GiB), sends a little of it and waits. The reader's
     * own limit would allow it (readBytes of whatever the header says), but the budget does not:
     * the connection ends at once. Without a budget of its own the client grew its array as the
     * bytes came, to four times what had arrived, and waited for the rest until its frame timeout.
     */
    @Test
    void aServerThatAnnouncesAFrameBeyondTheClientsInboundBudgetIsDroppedAtOnce() throws Exception {
        long budget = ClientConfig.builder("127.0.0.1:1").build().effectiveInboundBudget();
        assumeTrue(budget <= Integer.MAX_VALUE - (2 << 20), "a budget below the largest array");
        assertThat(frameAnnouncedBeyondBudget(ClientConfig.builder(server(budget + (1 << 20)))))
                .hasMessageEndingWith("needs more than the client's inbound budget of " + budget
                        + " bytes (ClientConfig.inboundBudget)");
    }

    /** As above, with a budget set: a frame of 2 MiB where the client's budget is 1 MiB. */
    @Test
    void aClientsInboundBudgetBoundsTheFramesItTakes() throws Exception {
        assertThat(frameAnnouncedBeyondBudget(ClientConfig.builder(server(2 << 20)).inboundBudget(1 << 20)))
                .hasMessageEndingWith("needs more than the client's inbound budget of " + (1 << 20)
                        + " bytes (ClientConfig.inboundBudget)");
    }

    /** A server that announces a frame of {@code length} bytes, sends 1 KiB of it and waits for the client's end; its address. */
    private String server(long length) throws IOException {
        server = new HostileServer(s -> {
            OutputStream out = s.getOutputStream();
            out.write(ByteBuffer.allocate(4 + 1024).putInt((int) length).array());
            out.flush();
            s.getInputStream().read(); // the client's end
        });
        return server.address();
    }

    /** Runs a client that reads frames of any length from the server; asserts it ends at once, as PROTOCOL_ERROR; its cause. */
    private Throwable frameAnnouncedBeyondBudget(ClientConfig.Builder config) throws Exception {
        CompletableFuture<Connection> ended = new CompletableFuture<>();
        client = TcpClient.create(config.reconnectDelay(Duration.ofMinutes(1)).reconnectMaxDelay(Duration.ofMinutes(1)).build(),
                        (sender, conn) -> conn.readBytes(conn.readInt()), SenderFactory.queue(8))
                .onDisconnect((sender, reason) -> ended.complete(sender.connection()))
                .start();
        // Well before the frame timeout (30 s), which is how the client ended without a budget.
        Connection conn = ended.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(conn.closeReason()).isEqualTo(CloseReason.PROTOCOL_ERROR);
        assertThat(conn.closeCause()).isInstanceOf(FrameTooLongException.class);
        return conn.closeCause();
    }

    /**
     * A TLS 1.3 server that sends twenty records without data (key updates, here, 43 bytes each
     * from the JDK's socket; session tickets do the same) and then a byte of data, over and over.
     * The limit on such records in a row never trips, since data follows every twenty: the limit
     * on their bytes beyond the bytes of the records with data (a 1-byte record is 39) ends it,
     * long before the server is done.
     */
    @Test
    void aServerThatNeverStopsSendingRecordsWithoutDataIsDroppedByTheClient() throws Exception {
        TestCerts certs = TestCerts.get();
        javax.net.ssl.SSLContext serverContext = TestCerts.clientContext(certs.caCert, certs.serverCert, certs.serverKey);
        int rounds = 1_000; // 20,000 records without data in all: 860 bytes of them for 39 of data a round, three times the limit
        server = new HostileServer(plain -> {
            SSLSocket tls = (SSLSocket) serverContext.getSocketFactory().createSocket(plain, null, plain.getPort(), false);
            tls.setUseClientMode(false);
            tls.setEnabledProtocols(new String[] {"TLSv1.3"});
            tls.startHandshake();
            // Takes the client's answering key updates off the socket below, unread: the JDK's
            // SSLSocket reading them on one thread while it starts key updates on another failed now
            // and then inside the JDK (a NullPointerException in its fatal-alert path), and the
            // server closed the connection early.
            Thread drain = Thread.ofPlatform().name("hostile-drain").start(() -> {
                try (InputStream in = plain.getInputStream()) {
                    in.transferTo(OutputStream.nullOutputStream());
                } catch (IOException e) {
                    // closed
                }
            });
            try {
                OutputStream out = tls.getOutputStream();
                for (int i = 0; i < rounds; i++) {
                    for (int k = 0; k < 20; k++) {
                        tls.startHandshake(); // after the handshake, in TLS 1.3: a key update
                    }
                    out.write('x');
                    out.flush();
                }
            } finally {
                drain.join(WAIT.toMillis());
            }
        });
        AtomicInteger bytes = new AtomicInteger();
        CompletableFuture<CloseReason> ended = new CompletableFuture<>();
        client = TcpClient.create(ClientConfig.builder(server.address())
                                .tls(TlsConfig.clientBuilder().trustPem(certs.caCert).serverName("localhost").build())
                                .reconnectDelay(Duration.ofMinutes(1)).reconnectMaxDelay(Duration.ofMinutes(1)).build(),
                        (sender, conn) -> {
                            conn.readBytes(1);
                            bytes.incrementAndGet();
                        }, SenderFactory.queue(8))
                .onDisconnect((sender, reason) -> ended.complete(reason))
                .start();
        assertThat(ended.get(30, TimeUnit.SECONDS)).isEqualTo(CloseReason.PROTOCOL_ERROR);
        assertThat(bytes.get()).as("rounds read before the end").isBetween(1, rounds - 1);
    }
}
