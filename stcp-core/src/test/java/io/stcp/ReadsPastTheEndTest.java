package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.TestCerts;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.Socket;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;

/**
 * A reader that swallows the end of its input — the peer's end of stream, or the connection's
 * close — is not called again until the stall detector fires: its call's return ends the
 * connection, as throwing would have. One that reads on past the end inside one call is stopped
 * with {@link ReaderStalledException}. (stcp-epoll runs these on its transport too.)
 */
class ReadsPastTheEndTest {

    /** What the exit hook saw. */
    private record Exit(CloseReason reason, Throwable cause, int eofs) {}

    @Test
    void aReaderThatSwallowsTheEndOfStreamEndsTheConnectionAsAPeerClose() throws Exception {
        AtomicInteger eofs = new AtomicInteger();
        ConnectionReader reader = (sender, conn) -> {
            try {
                Echo.READER.read(sender, conn);
            } catch (EOFException e) {
                eofs.incrementAndGet(); // and returns normally: "call me again"
            }
        };
        BlockingQueue<Exit> exits = new LinkedBlockingQueue<>();
        TcpServer server = start(reader, eofs, exits, null);
        try (Socket client = new Socket("127.0.0.1", server.address().getPort())) {
            client.getOutputStream().write(Echo.frame(new byte[] {7}));
            client.shutdownOutput();
            DataInputStream in = new DataInputStream(client.getInputStream());
            assertThat(in.readInt()).isEqualTo(1);
            assertThat(in.readByte()).isEqualTo((byte) 7);
            assertThat(in.read()).as("the server closes after the reply").isEqualTo(-1);
            Exit exit = awaitExit(exits);
            assertThat(exit.reason()).isEqualTo(CloseReason.PEER_CLOSED);
            assertThat(exit.cause()).isInstanceOf(EOFException.class);
            assertThat(exit.eofs()).as("calls that found the end").isEqualTo(1);
        } finally {
            Echo.stop(server);
        }
    }

    /** TLS: the end of stream without close_notify is a TlsTruncatedException, an EOFException too. */
    @Test
    void aReaderThatSwallowsATlsTruncationEndsTheConnectionAsAReset() throws Exception {
        AtomicInteger eofs = new AtomicInteger();
        ConnectionReader reader = (sender, conn) -> {
            try {
                Echo.READER.read(sender, conn);
            } catch (EOFException e) {
                eofs.incrementAndGet();
            }
        };
        BlockingQueue<Exit> exits = new LinkedBlockingQueue<>();
        TestCerts certs = TestCerts.get();
        TcpServer server = TcpServer.create(Echo.loopback().tls(TlsConfig.fromPem(certs.serverCert, certs.serverKey)).build(),
                        reader, SenderFactory.queue(8))
                .onConnectionExit(s -> exits.add(new Exit(s.connection().closeReason(), s.connection().closeCause(), eofs.get())))
                .start();
        try (Socket plain = new Socket("127.0.0.1", server.address().getPort())) {
            plain.setSoTimeout(10_000);
            SSLSocket tls = (SSLSocket) certs.clientContext().getSocketFactory()
                    .createSocket(plain, "localhost", server.address().getPort(), false);
            tls.getOutputStream().write(Echo.frame(new byte[] {7}));
            DataInputStream in = new DataInputStream(tls.getInputStream());
            assertThat(in.readInt()).isEqualTo(1);
            assertThat(in.readByte()).isEqualTo((byte) 7);
            plain.shutdownOutput(); // FIN, no close_notify
            Exit exit = awaitExit(exits);
            assertThat(exit.reason()).isEqualTo(CloseReason.PEER_RESET);
            assertThat(exit.cause()).isInstanceOf(TlsTruncatedException.class);
            assertThat(exit.eofs()).as("calls that found the end").isEqualTo(1);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aReaderThatReadsOnPastTheEndInOneCallIsStopped() throws Exception {
        AtomicInteger eofs = new AtomicInteger();
        ConnectionReader reader = (sender, conn) -> {
            for (int i = 0; i < 100_000; i++) { // bounded, for the test's sake: on its own it would loop for ever
                try {
                    Echo.READER.read(sender, conn);
                } catch (EOFException e) {
                    eofs.incrementAndGet();
                }
            }
        };
        BlockingQueue<Exit> exits = new LinkedBlockingQueue<>();
        TcpServer server = start(reader, eofs, exits, null);
        try (Socket client = new Socket("127.0.0.1", server.address().getPort())) {
            client.shutdownOutput();
            Exit exit = awaitExit(exits);
            assertThat(exit.reason()).isEqualTo(CloseReason.PROTOCOL_ERROR);
            assertThat(exit.cause()).isInstanceOf(ReaderStalledException.class).hasMessageContaining("past the end");
            assertThat(exit.eofs()).as("the end of stream, then 1,000 reads past it").isEqualTo(1 + 1000);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aReaderThatSwallowsTheCloseIsNotCalledAgain() throws Exception {
        AtomicInteger failures = new AtomicInteger();
        ConnectionReader reader = (sender, conn) -> {
            try {
                Echo.READER.read(sender, conn);
            } catch (IOException e) {
                failures.incrementAndGet(); // whatever the read threw, it returns normally
            }
        };
        BlockingQueue<Exit> exits = new LinkedBlockingQueue<>();
        AtomicReference<Connection> connection = new AtomicReference<>();
        CountDownLatch started = new CountDownLatch(1);
        TcpServer server = start(reader, failures, exits, s -> {
            connection.set(s.connection());
            started.countDown();
        });
        try (Socket client = new Socket("127.0.0.1", server.address().getPort())) {
            assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
            connection.get().close(CloseReason.SLOW_CONSUMER); // from this thread, while the reader waits
            Exit exit = awaitExit(exits);
            assertThat(exit.reason()).isEqualTo(CloseReason.SLOW_CONSUMER);
            assertThat(exit.eofs()).as("calls that failed after the close").isLessThanOrEqualTo(2);
        } finally {
            Echo.stop(server);
        }
    }

    private static Exit awaitExit(BlockingQueue<Exit> exits) throws InterruptedException {
        Exit exit = exits.poll(10, TimeUnit.SECONDS);
        assertThat(exit).as("the connection's exit").isNotNull();
        return exit;
    }

    private static TcpServer start(ConnectionReader reader, AtomicInteger eofs, BlockingQueue<Exit> exits,
                                   ConnectionHook onStart) throws IOException {
        TcpServer server = TcpServer.create(Echo.loopback().build(), reader, SenderFactory.queue(8))
                .onConnectionExit(s -> exits.add(new Exit(s.connection().closeReason(), s.connection().closeCause(), eofs.get())));
        if (onStart != null) {
            server.onConnectionStart(onStart);
        }
        return server.start();
    }
}
