package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.CloseReason;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A reader's give-way ({@link Transport#giveWay}) on a native transport whose source fails to
 * report the socket again (its {@code epoll_ctl} fails: {@link Readiness#reportAgain()}), on a
 * real socket: the socket may no longer be watched, so the give-way fails as a wait whose poller
 * failed does — the connection ends as {@link CloseReason#FAILED} — and not with the bare
 * {@link IOException}, which ended it as {@link CloseReason#PROTOCOL_ERROR}, the peer's fault,
 * and left the read flag cleared.
 */
class ReportAgainFailureTest {

    @Test
    void aGiveWayWhoseReportFailsThrowsThePollersFailure() throws Exception {
        IOException injected = new IOException("injected: epoll_ctl failed");
        Readiness readiness = new Readiness(new Readiness.Owner() {
            @Override
            public void deregister(Readiness r) {}

            @Override
            public boolean reportAgain(Readiness r) throws IOException {
                throw injected;
            }
        }, 0);
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel peer = SocketChannel.open(listener.getLocalAddress());
             SocketChannel channel = listener.accept()) {
            channel.configureBlocking(false);
            ReadinessTransport transport = new ReadinessTransport(channel, readiness, "test", null, -1);
            peer.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
            byte[] b = new byte[3];
            int n = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (n < 3) { // no poller here: the test tells the edges, until the bytes have come
                readiness.signal(true, false, false, false);
                n += transport.readNow(b, n, 3 - n);
                assertThat(System.nanoTime() - deadline).as("the peer's bytes arrived").isNegative();
            }

            assertThatThrownBy(() -> transport.giveWay(System.nanoTime() + TimeUnit.SECONDS.toNanos(10)))
                    .isInstanceOf(PollerFailedException.class).hasCause(injected);

            assertThat(Ends.classify(new PollerFailedException("test", injected))).isEqualTo(CloseReason.FAILED);
            assertThat(readiness.isReadable()).isTrue();
            transport.close();
        }
    }
}
