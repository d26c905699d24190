package io.stcp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ProtocolException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A client behind a balancer logs in with a connect hook that reads the server's answer, so that
 * the connection is up only once a server answered. A hook that throws — no answer (a balancer
 * that accepted while it had no server, then gave up), or a refusal — fails the connection: it
 * closes with the hook's exception as its cause, never goes up, and is a failed attempt, backed
 * off and counted; what the offline queue kept meanwhile goes to the next connection whose login
 * succeeds. (Before, such a connection went up all the same, and the kept messages were lost with
 * it.) Plain blocking sockets play the balancer and the server; the client runs on the transport
 * under test.
 */
class TcpClientLoginAnswerTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final BlockingQueue<String> answers = new LinkedBlockingQueue<>();
    private final BlockingQueue<Connection> disconnected = new LinkedBlockingQueue<>();
    private final List<Socket> held = new ArrayList<>(); // connections the server keeps open
    private final AtomicInteger gaveUpAfter = new AtomicInteger();
    private final AtomicReference<Connection> loggingIn = new AtomicReference<>(); // the last connection whose hook ran
    private TcpClient client;

    @AfterEach
    void stop() throws Exception {
        if (client != null) {
            client.close();
            assertThat(client.awaitTermination(WAIT)).isTrue();
        }
        for (Socket s : held) {
            s.close();
        }
    }

    @Test
    void messagesPutWhileABalancerHoldsTheConnectionWithoutAServerWaitForOneThatAnswers() throws Exception {
        try (ServerSocket balancer = listen()) {
            client = start(fastReconnect(balancer));

            try (Socket noServer = accept(balancer)) { // accepted, but nothing behind it answers
                assertThat(readFrame(noServer)).isEqualTo("login");
                client.put(frame("telemetry 1")); // kept offline: the hook still waits for the answer
                assertThat(client.isConnected()).isFalse();
            } // the balancer gives up on its server: the hook's read ends, and it throws
            Connection failed = disconnected.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(failed).isNotNull();
            assertThat(failed.closeReason()).isEqualTo(CloseReason.PEER_CLOSED);
            assertThat(failed.closeCause()).isInstanceOf(EOFException.class);
            client.put(frame("telemetry 2")); // still kept: that connection never went up

            try (Socket server = accept(balancer)) {
                assertThat(readFrame(server)).isEqualTo("login");
                write(server, "welcome");
                assertThat(answers.poll(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("welcome");
                assertThat(readFrame(server)).isEqualTo("telemetry 1"); // not lost with the first connection
                assertThat(readFrame(server)).isEqualTo("telemetry 2");
                assertThat(client.awaitConnected(WAIT)).isTrue();
                assertThat(client.offlineDropped()).isZero();
            }
        }
    }

    /**
     * A server that refuses the login and keeps the connection open: the client ends it itself, and
     * dials again after a back-off that grows as for any failed attempt — with {@code reconnectDelay}
     * 100 ms, ×2, jittered at most a fifth shorter, the attempts after the first come at least 80,
     * 240, 560 and 1200 ms after it, so at most 4 in its first second (a client that went back at
     * once, or every 100 ms, would make many more; one that took the connection as up, only one).
     */
    @Test
    void aRefusedLoginFailsTheConnectionAndTheClientBacksOff() throws Exception {
        try (ServerSocket server = listen(); LogCapture logs = LogCapture.of("io.stcp.client")) {
            client = start(config(server).reconnectDelay(Duration.ofMillis(100))
                    .reconnectMaxDelay(Duration.ofSeconds(10)));
            refuse(accept(server));
            long windowEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
            int attempts = 1;
            for (long left; (left = windowEnd - System.nanoTime()) > 0; attempts++) {
                Socket s = accept(server, Duration.ofNanos(left));
                if (s == null) {
                    break;
                }
                refuse(s);
            }
            assertThat(attempts).as("attempts in the first second").isBetween(1, 4);
            refuse(accept(server)); // it goes on dialling, as its back-off says

            Connection first = disconnected.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(first).isNotNull();
            assertThat(first.closeReason()).isEqualTo(CloseReason.PROTOCOL_ERROR);
            assertThat(first.closeCause()).isInstanceOf(ProtocolException.class).hasMessage("login refused: denied");
            assertThat(client.isConnected()).isFalse();
            assertThat(answers).isEmpty();
            assertThat(logs.events("client.connect.failed")).first()
                    .satisfies(e -> assertThat(String.valueOf(LogCapture.fields(e).get("error")))
                            .contains("login refused"));
        }
    }

    /**
     * A hook that answers a refusal with a last word (its sender's puts) and then throws ends the
     * connection as a reader that threw would: for a ProtocolException, what is queued is written
     * first and the connection then closes. (It was discarded: the hook's failure closed the
     * sender at once, and the server never saw the last word.)
     */
    @Test
    void whatAFailingHookPutBeforeItThrewIsWrittenWhenItsReasonFlushes() throws Exception {
        try (ServerSocket server = listen()) {
            client = TcpClient.create(fastReconnect(server).build(), (sender, conn) -> conn.readBytes(conn.readInt()),
                            SenderFactory.queue(16))
                    .onConnect(me -> {
                        me.put(frame("login"));
                        Connection c = me.connection();
                        String answer = new String(c.readBytes(c.readInt()), UTF_8);
                        for (int i = 1; i <= 3; i++) {
                            me.put(frame("bye " + i));
                        }
                        throw new ProtocolException("login refused: " + answer);
                    })
                    .start();
            try (Socket s = accept(server)) {
                refuse(s);
                for (int i = 1; i <= 3; i++) {
                    assertThat(readFrame(s)).isEqualTo("bye " + i);
                }
                assertThat(s.getInputStream().read()).as("then the client closes").isEqualTo(-1);
            }
        }
    }

    /** A login refused on every connection is a failed attempt each time: the client gives up after maxAttempts. */
    @Test
    void aClientWhoseLoginIsAlwaysRefusedGivesUp() throws Exception {
        try (ServerSocket server = listen()) {
            client = start(fastReconnect(server).maxAttempts(3));
            for (int i = 0; i < 3; i++) {
                refuse(accept(server));
            }
            assertThat(client.awaitTermination(WAIT)).isTrue();
            assertThat(gaveUpAfter).hasValue(3);
            assertThatThrownBy(() -> client.termination().get()).isInstanceOf(ExecutionException.class)
                    .hasCauseInstanceOf(ConnectException.class).hasMessageContaining("login refused: denied");
        }
    }

    /**
     * A shutdown while the login waits for an answer that never comes (a balancer with no server
     * behind it) closes the connection under the hook at once, as it does a reader waiting between
     * messages: the hook's read ends, and the shutdown returns, not after its grace. The hook's
     * failure is the shutdown's doing, not the application's: logged at DEBUG, and the connection
     * ends SHUTDOWN. It never came up: no conn.start, not counted. (The shutdown waited its whole
     * grace, then closed by force and returned false; the hook's end was a WARN; conn.start was
     * logged and connectCount said 1.)
     */
    @Test
    void aShutdownWhileTheLoginWaitsForItsAnswerClosesTheConnectionAtOnce() throws Exception {
        try (ServerSocket server = listen(); LogCapture logs = LogCapture.of("io.stcp.connection")) {
            client = start(config(server));
            try (Socket s = accept(server)) {
                assertThat(readFrame(s)).isEqualTo("login"); // and no answer
                long began = System.nanoTime();
                assertThat(client.shutdown(WAIT)).as("the login was written, nothing lost").isTrue();
                assertThat(Duration.ofNanos(System.nanoTime() - began)).isLessThan(WAIT.dividedBy(2));
                assertThat(s.getInputStream().read()).as("the client closed").isEqualTo(-1);
            }
            assertEndedByTheClientBeforeItCameUp(logs, CloseReason.SHUTDOWN);
        }
    }

    /** A close while the login waits for its answer: as a shutdown, at once, and CLOSED. */
    @Test
    void aCloseWhileTheLoginWaitsForItsAnswerIsNoFailureOfTheHook() throws Exception {
        try (ServerSocket server = listen(); LogCapture logs = LogCapture.of("io.stcp.connection")) {
            client = start(config(server));
            try (Socket s = accept(server)) {
                assertThat(readFrame(s)).isEqualTo("login"); // and no answer
                client.close();
                assertThat(client.awaitTermination(WAIT)).isTrue();
            }
            assertEndedByTheClientBeforeItCameUp(logs, CloseReason.CLOSED);
        }
    }

    /**
     * Only a connection whose login succeeded came up: the refused one has no conn.start and is not
     * in connectCount. (Both were.)
     */
    @Test
    void aConnectionWhoseLoginWasRefusedNeverCameUp() throws Exception {
        try (ServerSocket server = listen(); LogCapture logs = LogCapture.of("io.stcp.connection")) {
            client = start(fastReconnect(server));
            refuse(accept(server));
            Connection refused = disconnected.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(refused).isNotNull();
            try (Socket s = accept(server)) {
                assertThat(readFrame(s)).isEqualTo("login");
                write(s, "welcome");
                assertThat(client.awaitConnected(WAIT)).isTrue();
                Awaitility.await().atMost(WAIT).until(() -> !logs.events("conn.start").isEmpty());
                assertThat(logs.events("conn.start")).singleElement().satisfies(e ->
                        assertThat(LogCapture.fields(e).get("conn")).isNotEqualTo(refused.id()));
                assertThat(client.connectCount()).isOne();
            }
        }
    }

    /**
     * A login that has read part of its answer when a shutdown begins is let finish, as a reader
     * call that has consumed input is; when the rest of the answer refuses it, the hook's failure is
     * its own, not the shutdown's doing: a WARN, as it is without a shutdown. (It was logged at
     * DEBUG: any start hook's failure once SHUTDOWN was recorded was taken for the shutdown's.)
     */
    @Test
    void aLoginRefusedWhileAShutdownLetsItFinishIsTheHooksOwnFailure() throws Exception {
        try (ServerSocket server = listen(); LogCapture logs = LogCapture.of("io.stcp.connection")) {
            client = start(config(server));
            try (Socket s = accept(server)) {
                assertThat(readFrame(s)).isEqualTo("login");
                byte[] denied = frame("denied");
                s.getOutputStream().write(denied, 0, 7); // its length and "den"
                Awaitility.await().atMost(WAIT).until(() -> loggingIn.get() != null && loggingIn.get().bytesRead() >= 4);
                Connection c = loggingIn.get();
                FutureTask<Boolean> shutdown = new FutureTask<>(() -> client.shutdown(WAIT));
                Thread.ofPlatform().start(shutdown);
                Awaitility.await().atMost(WAIT).until(() -> c.closeReason() == CloseReason.SHUTDOWN);
                s.getOutputStream().write(denied, 7, denied.length - 7);
                assertThat(shutdown.get(WAIT.toSeconds(), TimeUnit.SECONDS)).as("the login was let finish, nothing lost").isTrue();
                assertThat(s.getInputStream().read()).as("the client closed").isEqualTo(-1);
            }
            assertThat(disconnected.poll(WAIT.toSeconds(), TimeUnit.SECONDS)).isNotNull();
            assertThat(logs.events("conn.hook.failed")).singleElement().satisfies(e -> {
                assertThat(e.getLevel()).hasToString("WARN");
                assertThat(e.getThrowableProxy().getMessage()).isEqualTo("login refused: denied");
            });
            assertThat(logs.events("conn.start")).as("it never came up").isEmpty();
            assertThat(client.connectCount()).isZero();
        }
    }

    /**
     * A connect hook that returns normally although the client closed meanwhile (one that waits
     * for something of its own and swallows the close's interrupt): the connection never came up —
     * no conn.start — and is not counted in connectCount, as its javadoc says of a close during the
     * hook.
     */
    @Test
    void aConnectHookThatReturnsAfterTheClientClosedIsNotCounted() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (ServerSocket server = listen(); LogCapture logs = LogCapture.of("io.stcp.connection")) {
            client = TcpClient.create(config(server).build(), (sender, conn) -> conn.readBytes(conn.readInt()),
                            SenderFactory.queue(16))
                    .onConnect(me -> {
                        loggingIn.set(me.connection());
                        entered.countDown();
                        boolean interrupted = false;
                        while (true) {
                            try {
                                release.await();
                                break;
                            } catch (InterruptedException e) {
                                interrupted = true; // swallowed: it returns all the same
                            }
                        }
                        if (interrupted) {
                            Thread.currentThread().interrupt();
                        }
                    })
                    .start();
            try (Socket s = accept(server)) {
                assertThat(entered.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
                FutureTask<Void> closing = new FutureTask<>(() -> {
                    client.close();
                    return null;
                });
                Thread.ofPlatform().start(closing);
                Awaitility.await().atMost(WAIT).until(() -> loggingIn.get().closeReason() == CloseReason.CLOSED);
                release.countDown();
                closing.get(WAIT.toSeconds(), TimeUnit.SECONDS);
                assertThat(client.awaitTermination(WAIT)).isTrue();
            }
            assertThat(logs.events("conn.start")).as("it never came up").isEmpty();
            assertThat(client.connectCount()).isZero();
        }
    }

    /** The connection's end as the client's own, its hook's failure no WARN, and it never came up. */
    private void assertEndedByTheClientBeforeItCameUp(LogCapture logs, CloseReason reason) throws InterruptedException {
        Connection c = disconnected.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(c).isNotNull();
        assertThat(c.closeReason()).isEqualTo(reason);
        assertThat(logs.events("conn.hook.failed")).singleElement()
                .satisfies(e -> assertThat(e.getLevel()).hasToString("DEBUG"));
        assertThat(logs.events("conn.exit")).singleElement().satisfies(e -> {
            assertThat(e.getLevel()).hasToString("DEBUG");
            assertThat(LogCapture.fields(e).get("reason")).hasToString(reason.name());
        });
        assertThat(logs.events("conn.start")).as("it never came up").isEmpty();
        assertThat(client.connectCount()).isZero();
        assertThat(answers).isEmpty();
    }

    private TcpClient start(ClientConfig.Builder config) {
        return TcpClient.create(config.offlineQueue(10, 1024).build(), (sender, conn) -> conn.readBytes(conn.readInt()),
                        SenderFactory.queue(16))
                .onConnect(me -> { // the hook runs on the reader's thread: it may read
                    me.put(frame("login"));
                    Connection c = me.connection();
                    loggingIn.set(c);
                    String answer = new String(c.readBytes(c.readInt()), UTF_8);
                    if (!answer.equals("welcome")) {
                        throw new ProtocolException("login refused: " + answer);
                    }
                    answers.add(answer);
                })
                .onDisconnect((sender, reason) -> disconnected.add(sender.connection()))
                .onGiveUp((n, failure) -> gaveUpAfter.set(n))
                .start();
    }

    private static ServerSocket listen() throws IOException {
        return new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    }

    private static ClientConfig.Builder config(ServerSocket server) {
        return ClientConfig.builder("127.0.0.1:" + server.getLocalPort());
    }

    private static ClientConfig.Builder fastReconnect(ServerSocket server) {
        return config(server).reconnectDelay(Duration.ofMillis(5)).reconnectMaxDelay(Duration.ofMillis(50));
    }

    private static Socket accept(ServerSocket server) throws IOException {
        Socket s = accept(server, WAIT);
        assertThat(s).as("a connection within " + WAIT).isNotNull();
        return s;
    }

    /** The next connection within {@code timeout}, or null. */
    private static Socket accept(ServerSocket server, Duration timeout) throws IOException {
        server.setSoTimeout((int) Math.max(1, timeout.toMillis()));
        try {
            Socket s = server.accept();
            s.setSoTimeout((int) WAIT.toMillis());
            return s;
        } catch (SocketTimeoutException e) {
            return null;
        }
    }

    /** Reads the login, refuses it and keeps the connection open: the client must end it. */
    private void refuse(Socket s) throws IOException {
        held.add(s);
        assertThat(readFrame(s)).isEqualTo("login");
        write(s, "denied");
    }

    private static void write(Socket s, String text) throws IOException {
        s.getOutputStream().write(frame(text));
    }

    private static byte[] frame(String text) {
        return Echo.frame(text.getBytes(UTF_8));
    }

    /** One 4-byte length-prefixed frame, within the socket's timeout. */
    private static String readFrame(Socket s) throws IOException {
        DataInputStream in = new DataInputStream(s.getInputStream());
        byte[] b = new byte[in.readInt()];
        in.readFully(b);
        return new String(b, UTF_8);
    }
}
