package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestClient;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * {@code conn.hook.failed} names the hook that threw as the API that added it does: a server's
 * {@code onConnectionStart} and {@code onConnectionExit} are {@code start} and {@code exit}, a
 * client's {@code onConnect} and {@code onDisconnect} are {@code connect} and {@code disconnect}.
 */
class HookFailureNamesTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    private static List<Object> hooksLogged(LogCapture log) {
        return log.events("conn.hook.failed").stream().map(e -> LogCapture.fields(e).get("hook")).toList();
    }

    @Test
    void aClientsConnectAndDisconnectHooksThatThrowAreLoggedAsConnectAndDisconnect() throws Exception {
        TcpServer server = Echo.start();
        try (LogCapture log = LogCapture.of("io.stcp.connection")) {
            // A connect hook that throws fails the connection: one attempt, then a minute's back-off.
            TcpClient client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + server.address().getPort())
                            .reconnectDelay(Duration.ofMinutes(1)).reconnectMaxDelay(Duration.ofMinutes(1)).build(),
                            Echo.READER, SenderFactory.queue(16))
                    .onConnect(s -> {
                        throw new IllegalStateException("connect hook");
                    })
                    .onDisconnect((s, reason) -> {
                        throw new IllegalStateException("disconnect hook");
                    })
                    .start();
            try {
                Awaitility.await().atMost(WAIT).until(() -> hooksLogged(log).size() == 2);
                assertThat(hooksLogged(log)).containsExactly("connect", "disconnect");
                assertThat(client.isConnected()).isFalse();
            } finally {
                client.close();
                assertThat(client.awaitTermination(WAIT)).isTrue();
            }
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aServersStartAndExitHooksThatThrowAreLoggedAsStartAndExit() throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16))
                .onConnectionStart(s -> {
                    throw new IllegalStateException("start hook");
                })
                .onConnectionExit(s -> {
                    throw new IllegalStateException("exit hook");
                })
                .start();
        try (LogCapture log = LogCapture.of("io.stcp.connection")) {
            try (TestClient c = TestClient.connect(server.address())) {
                assertThat(c.roundTrip(new byte[] {1})).containsExactly(1); // served after its start hook
            }
            Awaitility.await().atMost(WAIT).until(() -> hooksLogged(log).size() == 2);
            assertThat(hooksLogged(log)).containsExactly("start", "exit");
        } finally {
            Echo.stop(server);
        }
    }
}
