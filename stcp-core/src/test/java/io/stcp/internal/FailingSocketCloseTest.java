package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ServerConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A socket's close that throws something other than an {@link IOException} (a bug, out of memory)
 * does not skip the steps after it: the transport's registration is closed, the slot given back,
 * the Unix socket's file removed; nothing escapes. Each channel here closes its descriptor first,
 * then throws.
 */
class FailingSocketCloseTest {
    @TempDir
    Path dir;

    private ServerSocketChannel listener;
    private SocketChannel peer;
    private SocketChannel accepted;

    @BeforeEach
    void connect() throws IOException {
        listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        peer = SocketChannel.open(listener.getLocalAddress());
        accepted = listener.accept();
    }

    @AfterEach
    void closeAll() throws IOException {
        accepted.close();
        peer.close();
        listener.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"runtime", "error"})
    void theReadinessIsClosedAfterASocketCloseThatThrows(String kind) throws IOException {
        accepted.configureBlocking(false);
        AtomicBoolean deregistered = new AtomicBoolean();
        Readiness readiness = new Readiness(r -> deregistered.set(true), 0);
        ReadinessTransport transport = new ReadinessTransport(
                new FailingCloseChannel(accepted, FailingCloseChannel.failure(kind)), readiness, "test", null, -1);

        transport.close();

        assertThat(accepted.isOpen()).isFalse();
        assertThat(deregistered).as("the socket's registration dropped").isTrue();
        assertThat(transport.isOpen()).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"runtime", "error"})
    void aBlockingTransportsCloseNeverThrows(String kind) {
        BlockingTransport transport = new BlockingTransport(new FailingCloseChannel(accepted, FailingCloseChannel.failure(kind)),
                Sweeper.SHARED, () -> {});

        transport.close();

        assertThat(accepted.isOpen()).isFalse();
        assertThat(transport.isOpen()).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"runtime", "error"})
    void anAbandonedSocketWhoseCloseThrowsGivesItsSlotBack(String kind) {
        Admission admission = new Admission(ServerConfig.builder().address("127.0.0.1:0").build(), new StatsCounters(),
                System::nanoTime);
        admission.open(Sweeper.SHARED);
        SocketChannel channel = new FailingCloseChannel(accepted, FailingCloseChannel.failure(kind));
        Admission.Admitted admitted = admission.admit(channel);
        assertThat(admitted).isNotNull();
        assertThat(admission.liveCount()).isEqualTo(1);

        admission.abandon(channel, admitted); // the peer went away before its connection started

        assertThat(accepted.isOpen()).isFalse();
        assertThat(admission.liveCount()).as("the slot given back").isZero();
    }

    @ParameterizedTest
    @ValueSource(strings = {"runtime", "error"})
    void aUnixListenerWhoseCloseThrowsStillRemovesItsFile(String kind) throws IOException {
        Path path = dir.resolve("s.sock");
        UnixSockets.Listener real = UnixSockets.listen(path, 8, "", false);
        ServerSocketChannel failing = new FailingCloseServerChannel(real.channel(), FailingCloseChannel.failure(kind));
        ServerListener l = new ServerListener(failing, new UnixSockets.Listener(failing, path, real.fileKey()),
                UnixDomainSocketAddress.of(path));

        l.close();

        assertThat(real.channel().isOpen()).isFalse();
        assertThat(Files.exists(path)).as("the socket's file removed").isFalse();
    }
}
