package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.QueueSender;
import io.stcp.QueueSenderTesting;
import io.stcp.ServerConfig;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

/**
 * A reader about to wait for room in its queue parks its read buffers (a copy of up to 64 KiB, a
 * TLS layer's too) with the queue's lock released: another thread's call on that queue meanwhile
 * — a put, its writer's drain, here a look at its counts — is not held up for the copy. Which
 * locks the reader holds as it parks is not something a socket shows, so the transport here is
 * in memory, one that, as the reader parks, has another thread use the queue.
 */
class ParkOutsideQueueLockTest {
    private static final long WAIT_SECONDS = 10;

    @Test
    void aReaderParksItsBuffersWithoutHoldingItsQueuesLock() throws Exception {
        CompletableFuture<QueueSender> sender = new CompletableFuture<>();
        CompletableFuture<Boolean> queueFreeWhileParking = new CompletableFuture<>();
        MemoryTransport memory = new MemoryTransport();
        Transport transport = new ForwardingTransport(memory) {
            @Override
            public void parkBuffers() {
                Thread other = Thread.ofVirtual().name("queue-user").start(() -> sender.join().stats()); // takes the queue's lock
                try {
                    queueFreeWhileParking.complete(other.join(Duration.ofSeconds(WAIT_SECONDS)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    queueFreeWhileParking.completeExceptionally(e);
                }
            }

            @Override
            public String name() {
                return "parking observer";
            }
        };
        RealConnection c = connection(transport);
        RealConnectionRunner runner = RealConnectionRunner.of(c, (s, conn) -> {
            conn.readBytes(1);
            QueueSenderTesting.holdWrites((QueueSender) s); // nothing is written: the queue of one stays full
            sender.complete((QueueSender) s);
            s.put(new byte[1]);
            s.put(new byte[1]); // the reader waits for room, parking first
        }, QueueSender.options().capacity(1)::build, () -> {});
        try {
            runner.start();
            memory.feed(new byte[1]);
            assertThat(queueFreeWhileParking.get(2 * WAIT_SECONDS, TimeUnit.SECONDS))
                    .as("another thread used the queue while its reader parked").isTrue();
            QueueSenderTesting.resumeWrites(sender.get());
        } catch (TimeoutException e) {
            throw new AssertionError("the reader never parked", e);
        } finally {
            c.close();
            assertThat(runner.awaitExit(Duration.ofSeconds(WAIT_SECONDS))).isTrue();
        }
    }

    private static RealConnection connection(Transport transport) {
        ConnectionContext context = new ConnectionContext(Sweeper.SHARED, null, Transports.sourceOrNull(), ExitLog.SHARED,
                Nanos.timeout(ServerConfig.DEFAULT_WRITE_TIMEOUT), 0, 0, Nanos.timeout(ServerConfig.DEFAULT_FRAME_TIMEOUT),
                List.of());
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", 1);
        return new RealConnection(null, address, address, true, context, x -> transport);
    }
}
