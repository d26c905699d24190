package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import io.stcp.CloseReason;
import io.stcp.ConnectionReader;
import io.stcp.SenderFactory;
import io.stcp.ServerStats;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestClient;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A connection whose socket fails under its reader because the network broke — the peer vanished
 * and TCP gave up (ETIMEDOUT), or its host or network became unreachable — ends as
 * {@link CloseReason#PEER_RESET} (DEBUG), as a reset does, and as the same failure does in the send
 * loop; not as {@link CloseReason#PROTOCOL_ERROR}, which says the reader found a protocol violation
 * (WARN with a stack trace, and an alert on that series).
 *
 * <p>Loopback cannot time out nor be unreachable, so a layer over the real socket (its transport,
 * on the JDK's transport here and again on epoll's) makes the reader's read fail as the transports
 * report these errors: the JDK's channels with an {@link IOException} carrying the system's
 * message, the epoll transport with a {@link SocketException} (see its {@code SocketSyscalls}).
 */
class BrokenConnectionReasonTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    @ParameterizedTest
    @ValueSource(strings = {"jdk:Connection timed out", "jdk:No route to host", "jdk:Network is unreachable",
            "jdk:Host is down", "epoll:Connection timed out", "epoll:No route to host"})
    void aSocketThatFailsBecauseTheNetworkBrokeEndsAsAPeerReset(String failure) throws Exception {
        String[] kind = failure.split(":", 2);
        Supplier<IOException> thrown = kind[0].equals("jdk") ? () -> new IOException(kind[1])
                : () -> new SocketException(kind[1]);
        BlockingQueue<CloseReason> ends = new ArrayBlockingQueue<>(1);
        try (LogCapture conn = LogCapture.of("io.stcp.connection")) {
            RealTcpServer s = new RealTcpServer(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8))
                    .layUnder((under, connection, deadline) -> new FailingReadTransport(under, thrown));
            s.onConnectionExit(sender -> ends.add(sender.connection().closeReason())).start();
            try (TestClient client = TestClient.connect(s.address())) {
                client.sendRaw(new byte[] {0, 0, 0, 1, 7}); // the reader reads: the socket fails
                assertThat(ends.poll(WAIT.toSeconds(), TimeUnit.SECONDS)).as(failure).isEqualTo(CloseReason.PEER_RESET);
                await().atMost(WAIT).until(() -> s.connectionCount() == 0);
                ServerStats stats = s.stats();
                assertThat(stats.closed(CloseReason.PEER_RESET)).isEqualTo(1);
                assertThat(stats.closed(CloseReason.PROTOCOL_ERROR)).isZero();
                assertThat(conn.events("conn.exit")).hasSize(1)
                        .allSatisfy(e -> assertThat(e.getLevel()).isEqualTo(Level.DEBUG));
            } finally {
                Echo.stop(s);
            }
        }
    }

    /**
     * The reader's own failures stay its own, as the README's table says ({@code PROTOCOL_ERROR}, WARN):
     * a backend it dials refusing the connection ({@link java.net.ConnectException}, a subclass of
     * {@link SocketException}), and plain {@link IOException}s of its own whose message merely
     * mentions a timeout, an unreachable or a down service. The connection's socket is fine.
     */
    @ParameterizedTest
    @ValueSource(strings = {"connect to a closed port", "upstream timed out", "upstream unreachable",
            "upstream is down"})
    void aReadersOwnFailureIsNoPeerReset(String failure) throws Exception {
        int closedPort;
        try (ServerSocket bound = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = bound.getLocalPort(); // closed below: a connect to it is refused
        }
        ConnectionReader reader = (sender, connection) -> {
            connection.readInt();
            if (failure.startsWith("connect")) {
                try (Socket backend = new Socket()) {
                    backend.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), closedPort), 10_000);
                }
            }
            throw new IOException(failure);
        };
        BlockingQueue<CloseReason> ends = new ArrayBlockingQueue<>(1);
        try (LogCapture conn = LogCapture.of("io.stcp.connection")) {
            RealTcpServer s = new RealTcpServer(Echo.loopback().build(), reader, SenderFactory.queue(8));
            s.onConnectionExit(sender -> ends.add(sender.connection().closeReason())).start();
            try (TestClient client = TestClient.connect(s.address())) {
                client.sendRaw(new byte[] {0, 0, 0, 1});
                assertThat(ends.poll(WAIT.toSeconds(), TimeUnit.SECONDS)).as(failure).isEqualTo(CloseReason.PROTOCOL_ERROR);
                await().atMost(WAIT).until(() -> s.connectionCount() == 0);
                assertThat(s.stats().closed(CloseReason.PEER_RESET)).isZero();
                assertThat(conn.events("conn.exit")).hasSize(1)
                        .allSatisfy(e -> assertThat(e.getLevel()).isEqualTo(Level.WARN));
            } finally {
                Echo.stop(s);
            }
        }
    }

    /** The socket's transport, whose reads fail with what {@code failure} makes; every other call passes. */
    private static final class FailingReadTransport extends OverTransport {
        private final Supplier<IOException> failure;

        FailingReadTransport(Transport under, Supplier<IOException> failure) {
            super(under);
            this.failure = failure;
        }

        @Override
        public int read(byte[] b, int off, int len, long deadlineNanos) throws IOException {
            throw failure.get();
        }

        @Override
        public int readNow(byte[] b, int off, int len) throws IOException {
            throw failure.get();
        }

        @Override
        public long read(ByteBuffer[] dsts, int off, int len, long deadlineNanos) throws IOException {
            throw failure.get();
        }

        @Override
        public long readNow(ByteBuffer[] dsts, int off, int len) throws IOException {
            throw failure.get();
        }
    }
}
