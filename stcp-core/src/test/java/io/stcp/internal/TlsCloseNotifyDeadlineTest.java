package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ServerConfig;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A graceful close of a TLS connection whose peer has stopped reading: its {@code close_notify}
 * waits for room no longer than the close's own deadline, even with the write timeout off (before,
 * it waited the write timeout, and with none, for ever: the reader's exit, its hooks and its
 * connection slot with it).
 */
class TlsCloseNotifyDeadlineTest {

    @Test
    void closeNotifyToAPeerThatDoesNotReadWaitsNoLongerThanTheClose() throws Exception {
        MemoryTransport serverSide = new MemoryTransport();
        long deadline = Nanos.deadlineAfter(Duration.ofSeconds(30));
        TlsMemoryPair pair = TlsMemoryPair.open(serverSide, serverSide, deadline); // no write timeout
        TlsTransport server = pair.server;

        ConnectionContext context = new ConnectionContext(Sweeper.SHARED, null, Transports.sourceOrNull(), ExitLog.SHARED,
                0, 0, 0, Nanos.timeout(ServerConfig.DEFAULT_FRAME_TIMEOUT), List.of());
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", 1);
        RealConnection c = new RealConnection(null, address, address, true, context, x -> server);
        CompletableFuture<Integer> closed = new CompletableFuture<>();
        try {
            serverSide.stallWrites(true); // the peer has stopped reading: nothing more goes out
            Thread.ofVirtual().start(() -> {
                try {
                    closed.complete(c.closeGracefully(Duration.ofMillis(300), timeout -> 0));
                } catch (Throwable t) {
                    closed.completeExceptionally(t);
                }
            });
            assertThat(closed.get(10, TimeUnit.SECONDS)).as("closed by its own deadline").isZero();
            assertThat(c.isOpen()).isFalse();
        } finally {
            c.close();
            serverSide.close(); // a write still waiting (the old code's) fails
            pair.close();
            closed.handle((n, t) -> null).get(10, TimeUnit.SECONDS);
        }
    }
}
