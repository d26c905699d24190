package io.stcp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.Echo;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The reconnecting client on {@code unix:} addresses, against stcp servers on Unix sockets. */
class TcpClientUnixSocketTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    private final BlockingQueue<String> received = new LinkedBlockingQueue<>();
    private final List<TcpServer> servers = new ArrayList<>();
    private TcpClient client;

    private final ConnectionReader collect = (sender, conn) -> received.add(new String(conn.readBytes(conn.readInt()), UTF_8));

    @AfterEach
    void stop() throws Exception {
        if (client != null) {
            client.close();
            assertThat(client.awaitTermination(WAIT)).isTrue();
        }
        for (TcpServer s : servers) {
            Echo.stop(s);
        }
    }

    private TcpServer unixServer(Path path) throws IOException {
        TcpServer s = TcpServer.create(ServerConfig.builder().address("unix:" + path).build(), Echo.READER,
                SenderFactory.queue(1024)).start();
        servers.add(s);
        return s;
    }

    private static byte[] frame(String text) {
        return Echo.frame(text.getBytes(UTF_8));
    }

    private String next() throws InterruptedException {
        String s = received.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(s).as("a frame within %s", WAIT).isNotNull();
        return s;
    }

    @Test
    void echoesAndReconnectsWhenTheServerIsRestartedOnTheSamePath() throws Exception {
        Path path = dir.resolve("echo.sock");
        TcpServer first = unixServer(path);
        BlockingQueue<CloseReason> disconnects = new LinkedBlockingQueue<>();
        client = TcpClient.create(ClientConfig.builder("unix:" + path).reconnectDelay(Duration.ofMillis(5))
                                .reconnectMaxDelay(Duration.ofMillis(50)).build(), collect, SenderFactory.queue(64))
                .onConnect(s -> s.put(frame("hello")))
                .onDisconnect((s, reason) -> disconnects.add(reason))
                .start();
        assertThat(next()).isEqualTo("hello");
        client.put(frame("before"));
        assertThat(next()).isEqualTo("before");
        assertThat(client.awaitConnected(WAIT)).isTrue(); // an echo may come before the client is up (its backlog first)
        Connection c = client.sender().connection();
        assertThat(c.remoteAddress()).isEqualTo(UnixDomainSocketAddress.of(path));
        assertThat(c.remoteAddressText()).isEqualTo("unix:" + path);
        assertThat(c.tls()).isEmpty();
        assertThat(((io.stcp.internal.RealConnection) c).transportName()).as("the JVM's transport, epoll included")
                .isEqualTo(io.stcp.internal.Transports.name());

        Echo.stop(first); // removes the socket file: attempts fail until the server is back
        servers.remove(first);
        assertThat(disconnects.poll(10, TimeUnit.SECONDS)).isNotNull();
        assertThat(Files.exists(path)).isFalse();
        assertThatThrownBy(() -> client.put(frame("lost"))).isInstanceOf(NotConnectedException.class);

        unixServer(path);
        Awaitility.await().atMost(WAIT).until(() -> client.connectCount() == 2 && client.isConnected());
        assertThat(next()).isEqualTo("hello");
        client.put(frame("after"));
        assertThat(next()).isEqualTo("after");
    }

    @Test
    void givesUpOnAPathNobodyListensOn() throws Exception {
        AtomicReference<Throwable> last = new AtomicReference<>();
        client = TcpClient.create(ClientConfig.builder("unix:" + dir.resolve("nobody.sock"))
                        .reconnectDelay(Duration.ofMillis(1)).maxAttempts(2).build(), collect, SenderFactory.queue(8))
                .onGiveUp((n, failure) -> last.set(failure))
                .start();
        assertThat(client.awaitTermination(WAIT)).isTrue();
        assertThat(client.connectCount()).isZero();
        assertThat(last.get()).isInstanceOf(IOException.class);
        assertThat(client.termination()).isCompletedExceptionally();
        assertThatThrownBy(() -> client.termination().join()).hasCauseInstanceOf(ConnectException.class);
    }

    @Test
    void aLocalAddressOrAnEmptyPathIsRefusedAtBuildTime() {
        assertThatThrownBy(() -> ClientConfig.builder("unix:/tmp/x.sock").localAddress(new InetSocketAddress("127.0.0.1", 0))
                .build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("localAddress: 127.0.0.1:0").hasMessageContaining("TCP only");
        assertThatThrownBy(() -> ClientConfig.builder("unix:").build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("address: \"unix:\"");
        ClientConfig c = ClientConfig.builder("unix:/tmp/x.sock").build();
        assertThat(c.toBuilder().build()).isEqualTo(c);
    }
}
