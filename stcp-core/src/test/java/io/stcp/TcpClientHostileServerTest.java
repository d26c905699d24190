package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
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
            out.write(new byte[] {0, 0, 0x03, (byte) 0xE8}); // 1,000 bytes follow
            for (int i = 0; i < 200; i++) {
                out.write('x');
                out.flush();
                Thread.sleep(100);
            }
        });
        CompletableFuture<CloseReason> ended = new CompletableFuture<>();
        long start = System.nanoTime();
        client = TcpClient.create(ClientConfig.builder(server.address()).frameTimeout(Duration.ofMillis(500))
                                .reconnectDelay(Duration.ofMinutes(1)).reconnectMaxDelay(Duration.ofMinutes(1)).build(),
                        (sender, conn) -> conn.readBytes(conn.readInt()), SenderFactory.queue(8))
                .onDisconnect((sender, reason) -> ended.complete(reason))
                .start();
        assertThat(ended.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo(CloseReason.FRAME_TIMEOUT);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
    }
}
