package io.stcp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A wait for the connections called on a thread of one of them — a server's {@code shutdown},
 * {@code drain}, {@code runUntilSignal} or {@code awaitTermination}, a client's {@code shutdown},
 * {@code runUntilSignal} or {@code awaitTermination}, from a reader or a hook on
 * its thread — would wait for the call it is part of: it throws {@link IllegalStateException} at
 * once and changes nothing, so the server or client runs on and a shutdown from elsewhere then
 * succeeds; a thread the reader starts for the shutdown is not the connection's, and shuts down.
 * Both transports: this suite runs again in stcp-epoll's build.
 */
class ShutdownOnOwnThreadTest {
    private static final Duration WAIT = Duration.ofSeconds(10);
    /** Short: the wait this test forbids would return false after it (and, for a shutdown, 5 s more). */
    private static final Duration SHORT = Duration.ofMillis(200);

    private final List<TcpServer> servers = new ArrayList<>();
    private final List<TcpClient> clients = new ArrayList<>();
    /** What the call on the connection's thread did: its result, or what it threw. */
    private final CompletableFuture<Object> outcome = new CompletableFuture<>();

    @AfterEach
    void stop() throws Exception {
        for (TcpClient c : clients) {
            c.close();
            assertThat(c.awaitTermination(WAIT)).isTrue();
        }
        for (TcpServer s : servers) {
            Echo.stop(s);
        }
    }

    private interface Call {
        Object call() throws Exception;
    }

    /** Runs {@code call} and keeps its result or what it threw in {@link #outcome}. */
    private void attempt(Call call) {
        try {
            outcome.complete(call.call());
        } catch (Throwable t) {
            outcome.complete(t);
        }
    }

    /** The call was refused at once, saying what to do instead. */
    private void assertRefused() throws Exception {
        assertThat(outcome.get(WAIT.toMillis(), TimeUnit.MILLISECONDS))
                .isInstanceOf(IllegalStateException.class)
                .asInstanceOf(org.assertj.core.api.InstanceOfAssertFactories.THROWABLE)
                .hasMessageContaining("own connection").hasMessageContaining("Thread.ofVirtual().start(");
    }

    /** A server whose reader reads frames and, on each, runs {@code onFrame}. */
    private TcpServer server(AtomicReference<TcpServer> self, Runnable onFrame) {
        TcpServer s = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            conn.readBytes(conn.readInt());
            onFrame.run();
            sender.put(Echo.frame("ok".getBytes(UTF_8)));
        }, SenderFactory.queue(16));
        self.set(s);
        servers.add(s);
        return s;
    }

    /** The server still serves: a new connection's frame is answered; then a shutdown from here succeeds. */
    private static void assertServesThenShutsDown(TcpServer server) throws Exception {
        try (TestClient c = TestClient.connect(server.address())) {
            assertThat(new String(c.roundTrip("again".getBytes(UTF_8)), UTF_8)).isEqualTo("ok");
        }
        assertThat(server.termination()).isNotDone();
        assertThat(server.shutdown(WAIT)).isTrue();
    }

    private static void send(TcpServer server, String text) throws Exception {
        try (TestClient c = TestClient.connect(server.address())) {
            c.roundTrip(text.getBytes(UTF_8));
        }
    }

    @Test
    void serverShutdownFromItsReaderIsRefused() throws Exception {
        AtomicReference<TcpServer> self = new AtomicReference<>();
        AtomicInteger frames = new AtomicInteger();
        TcpServer server = server(self, () -> {
            if (frames.getAndIncrement() == 1) {
                attempt(() -> self.get().shutdown(SHORT));
            }
        }).start();
        try (TestClient c = TestClient.connect(server.address())) {
            // the second request: on a readiness transport its reader call runs on a resumed thread
            c.roundTrip("hello".getBytes(UTF_8));
            c.roundTrip("/shutdown".getBytes(UTF_8));
        }
        assertRefused();
        assertServesThenShutsDown(server);
    }

    @Test
    void serverDrainAndRunUntilSignalFromItsReaderAreRefused() throws Exception {
        AtomicReference<TcpServer> self = new AtomicReference<>();
        CompletableFuture<Object> runUntilSignal = new CompletableFuture<>();
        AtomicInteger frames = new AtomicInteger();
        TcpServer server = server(self, () -> {
            if (frames.getAndIncrement() == 0) {
                attempt(() -> self.get().drain(SHORT));
                try {
                    runUntilSignal.complete(self.get().runUntilSignal(SHORT));
                } catch (Throwable t) {
                    runUntilSignal.complete(t);
                }
            }
        }).start();
        send(server, "/drain");
        assertRefused();
        assertThat(runUntilSignal.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isInstanceOf(IllegalStateException.class);
        assertServesThenShutsDown(server);
    }

    @Test
    void serverAwaitTerminationFromItsReaderIsRefused() throws Exception {
        AtomicReference<TcpServer> self = new AtomicReference<>();
        CompletableFuture<Object> untimed = new CompletableFuture<>();
        AtomicInteger frames = new AtomicInteger();
        TcpServer server = server(self, () -> {
            if (frames.getAndIncrement() == 0) {
                attempt(() -> self.get().awaitTermination(SHORT)); // waited it out and returned false
                try {
                    self.get().awaitTermination(); // waited until a close from elsewhere
                    untimed.complete("returned");
                } catch (Throwable t) {
                    untimed.complete(t);
                }
            }
        }).start();
        send(server, "/await");
        assertRefused();
        assertThat(untimed.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isInstanceOf(IllegalStateException.class);
        assertServesThenShutsDown(server);
    }

    @Test
    void serverShutdownFromAConnectionStartHookIsRefused() throws Exception {
        AtomicReference<TcpServer> self = new AtomicReference<>();
        AtomicInteger starts = new AtomicInteger();
        TcpServer server = server(self, () -> { })
                .onConnectionStart(sender -> {
                    if (starts.getAndIncrement() == 0) {
                        attempt(() -> self.get().shutdown(SHORT));
                    }
                })
                .start();
        send(server, "hello");
        assertRefused();
        assertServesThenShutsDown(server);
    }

    @Test
    void serverShutdownFromAConnectionExitHookIsRefused() throws Exception {
        AtomicReference<TcpServer> self = new AtomicReference<>();
        AtomicInteger exits = new AtomicInteger();
        TcpServer server = server(self, () -> { })
                .onConnectionExit(sender -> {
                    if (exits.getAndIncrement() == 0) {
                        attempt(() -> self.get().shutdown(SHORT));
                    }
                })
                .start();
        send(server, "hello"); // then the client leaves: the exit hook runs
        assertRefused();
        assertServesThenShutsDown(server);
    }

    @Test
    void serverShutdownOnAThreadTheReaderStartsSucceeds() throws Exception {
        AtomicReference<TcpServer> self = new AtomicReference<>();
        TcpServer server = server(self, () -> Thread.ofVirtual().start(() -> attempt(() -> self.get().shutdown(WAIT))))
                .start();
        try (TestClient c = TestClient.connect(server.address())) {
            c.roundTrip("/shutdown".getBytes(UTF_8));
            assertThat(outcome.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo(true);
        }
        assertThat(server.termination()).isDone();
    }

    // ---------------------------------------------------------------- the client's

    /** A server that greets each client with a frame; {@code first} runs on the first connection's start. */
    private TcpServer greeter(ConnectionHook first) throws Exception {
        AtomicInteger starts = new AtomicInteger();
        TcpServer s = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16))
                .onConnectionStart(sender -> {
                    sender.put(Echo.frame("hi".getBytes(UTF_8)));
                    if (starts.getAndIncrement() == 0) {
                        first.onEvent(sender);
                    }
                })
                .start();
        servers.add(s);
        return s;
    }

    private TcpClient client(TcpServer server, AtomicReference<TcpClient> self, ConnectionReader reader) {
        return client(ClientConfig.builder("127.0.0.1:" + server.address().getPort())
                .reconnectDelay(Duration.ofMillis(5)).reconnectMaxDelay(Duration.ofMillis(50)), self, reader);
    }

    private TcpClient client(ClientConfig.Builder config, AtomicReference<TcpClient> self, ConnectionReader reader) {
        TcpClient c = TcpClient.create(config.build(), reader, SenderFactory.queue(16));
        self.set(c);
        clients.add(c);
        return c;
    }

    /** Reads the server's frames; the first runs {@code onFirst}. */
    private static ConnectionReader reading(Runnable onFirst) {
        return reading(0, onFirst);
    }

    /** Reads the server's frames; frame {@code n} (from 0) runs {@code onIt}. */
    private static ConnectionReader reading(int n, Runnable onIt) {
        AtomicInteger frames = new AtomicInteger();
        return (sender, conn) -> {
            conn.readBytes(conn.readInt());
            if (frames.getAndIncrement() == n) {
                onIt.run();
            }
        };
    }

    /** The client runs on, connected: a shutdown from here succeeds. */
    private static void assertConnectedThenShutsDown(TcpClient client) throws Exception {
        assertThat(client.awaitConnected(WAIT)).isTrue();
        assertThat(client.termination()).isNotDone();
        assertThat(client.shutdown(WAIT)).isTrue();
    }

    @Test
    void clientShutdownFromItsReaderIsRefused() throws Exception {
        TcpServer server = greeter(sender -> { });
        AtomicReference<TcpClient> self = new AtomicReference<>();
        // the greeting, then the echo of a put made once the client is up: on a readiness
        // transport, that reader call runs on a resumed thread
        TcpClient client = client(server, self, reading(1, () -> attempt(() -> self.get().shutdown(SHORT)))).start();
        assertThat(client.awaitConnected(WAIT)).isTrue();
        client.put(Echo.frame("/shutdown".getBytes(UTF_8)));
        assertRefused();
        assertConnectedThenShutsDown(client);
    }

    @Test
    void clientAwaitTerminationFromItsReaderIsRefused() throws Exception {
        TcpServer server = greeter(sender -> { });
        AtomicReference<TcpClient> self = new AtomicReference<>();
        TcpClient client = client(server, self, reading(1, () -> attempt(() -> self.get().awaitTermination(SHORT)))).start();
        assertThat(client.awaitConnected(WAIT)).isTrue();
        client.put(Echo.frame("/await".getBytes(UTF_8)));
        assertRefused();
        assertConnectedThenShutsDown(client);
    }

    @Test
    void clientRunUntilSignalFromItsReaderIsRefused() throws Exception {
        TcpServer server = greeter(sender -> { });
        AtomicReference<TcpClient> self = new AtomicReference<>();
        TcpClient client = client(server, self, reading(1, () -> attempt(() -> self.get().runUntilSignal(SHORT)))).start();
        assertThat(client.awaitConnected(WAIT)).isTrue();
        client.put(Echo.frame("/run".getBytes(UTF_8)));
        assertRefused();
        assertConnectedThenShutsDown(client);
    }

    @Test
    void clientShutdownFromItsConnectHookIsRefused() throws Exception {
        TcpServer server = greeter(sender -> { });
        AtomicReference<TcpClient> self = new AtomicReference<>();
        AtomicInteger connects = new AtomicInteger();
        TcpClient client = client(server, self, reading(() -> { }))
                .onConnect(sender -> {
                    if (connects.getAndIncrement() == 0) {
                        attempt(() -> self.get().shutdown(SHORT));
                    }
                })
                .start();
        assertRefused();
        assertConnectedThenShutsDown(client);
    }

    @Test
    void clientShutdownFromItsDisconnectHookIsRefused() throws Exception {
        TcpServer server = greeter(sender -> sender.connection().close(CloseReason.CLOSED)); // the first one only
        AtomicReference<TcpClient> self = new AtomicReference<>();
        AtomicInteger disconnects = new AtomicInteger();
        TcpClient client = client(server, self, reading(() -> { }))
                .onDisconnect((sender, reason) -> {
                    if (disconnects.getAndIncrement() == 0) {
                        attempt(() -> self.get().shutdown(SHORT));
                    }
                })
                .start();
        assertRefused();
        assertConnectedThenShutsDown(client); // it reconnected
    }

    @Test
    void clientShutdownFromItsGiveUpHookIsRefused() throws Exception {
        int deadPort;
        try (ServerSocketChannel ch = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            deadPort = ((InetSocketAddress) ch.getLocalAddress()).getPort();
        }
        AtomicReference<TcpClient> self = new AtomicReference<>();
        TcpClient client = client(ClientConfig.builder("127.0.0.1:" + deadPort).maxAttempts(1), self, reading(() -> { }))
                .onGiveUp((attempts, failure) -> attempt(() -> self.get().shutdown(SHORT)))
                .start();
        assertRefused();
        assertThat(client.awaitTermination(WAIT)).isTrue();
    }

    @Test
    void clientShutdownOnAThreadTheReaderStartsSucceeds() throws Exception {
        TcpServer server = greeter(sender -> { });
        AtomicReference<TcpClient> self = new AtomicReference<>();
        TcpClient client = client(server, self,
                reading(() -> Thread.ofVirtual().start(() -> attempt(() -> self.get().shutdown(WAIT))))).start();
        assertThat(outcome.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo(true);
        assertThat(client.termination()).isDone();
    }
}
