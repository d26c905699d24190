package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.CloseReason;
import io.stcp.Connection;
import io.stcp.QueueSender;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** A reader waiting for the server's inbound budget with no read deadline still ends with its connection. */
class InboundBudgetCloseTest {

    @Test
    void closingAConnectionWhoseReaderWaitsForTheBudgetWithoutADeadlineEndsIt() throws Exception {
        BlockingQueue<Connection> started = new LinkedBlockingQueue<>();
        BlockingQueue<Connection> exited = new LinkedBlockingQueue<>();
        // No frame timeout and no read-idle timeout: the wait for budget has no deadline.
        RealTcpServer server = new RealTcpServer(io.stcp.testing.Echo.loopback().inboundBudget(3 << 19)
                .frameTimeout(Duration.ZERO).readIdleTimeout(Duration.ZERO).build(),
                // Lines, not length-prefixed frames: their array grows (and reserves) as bytes arrive on
                // every transport; a frame's rest may wait in the kernel instead (epoll's low-water mark).
                (sender, conn) -> sender.put(conn.readLine(4 << 20)),
                QueueSender.options().capacity(8).maxBytes(8 << 20)::build);
        server.onConnectionStart(s -> started.add(s.connection())).onConnectionExit(s -> exited.add(s.connection()));
        server.start();
        try (Socket holder = new Socket("127.0.0.1", server.address().getPort())) {
            // The first peer sends 800 KiB of a line and stops: its 1 MiB array holds most of the 1.5 MiB budget.
            holder.getOutputStream().write(new byte[800 << 10]);
            Connection first = started.poll(10, TimeUnit.SECONDS);
            InboundBudget budget = ((RealConnection) first).input().budget();
            Awaitility.await().until(() -> budget.usedBytes() > (512 << 10)); // its array has grown to 1 MiB
            // The second's line outgrows what is left: its reader waits for the budget.
            try (Socket waiter = new Socket("127.0.0.1", server.address().getPort())) {
                waiter.getOutputStream().write(new byte[800 << 10]);
                Connection second = started.poll(10, TimeUnit.SECONDS);
                Awaitility.await().until(() -> budget.waiters() == 1);

                second.close(CloseReason.CLOSED);

                assertThat(exited.poll(10, TimeUnit.SECONDS)).as("the closed connection exits").isSameAs(second);
                assertThat(budget.waiters()).isZero();
                assertThat(first.isOpen()).as("the other one is untouched").isTrue();
            }
        } finally {
            io.stcp.testing.Echo.stop(server);
        }
    }
}
