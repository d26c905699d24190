package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.Echo;
import io.stcp.testing.SocketPair;
import io.stcp.testing.TestClient;
import java.io.DataInputStream;
import java.io.EOFException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

class GracefulCloseTest {

    @Test
    void closeAfterFlushWritesEverythingThenShutsTheOutputDown() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.create(p.server, 1000);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            for (int i = 0; i < 500; i++) {
                sender.put(ByteBuffer.allocate(4).putInt(i).array());
            }
            sender.resumeWrites(); // the queue is written from now on
            assertThat(sender.closeAfterFlush(Duration.ofSeconds(10))).isZero();
            assertThatThrownBy(() -> sender.put(new byte[1])).isInstanceOf(SenderClosedException.class);
            DataInputStream in = new DataInputStream(java.nio.channels.Channels.newInputStream(p.client));
            for (int i = 0; i < 500; i++) {
                assertThat(in.readInt()).isEqualTo(i);
            }
            assertThat(in.read()).isEqualTo(-1);
        }
    }

    @Test
    void closeAfterFlushGivesUpAtItsDeadlineAndCountsWhatItDiscarded() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().capacity(1000).maxBytes(0).build(p.server);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            for (int i = 0; i < 300; i++) {
                sender.put(new byte[1 << 20]); // far more than the socket buffers hold
            }
            sender.resumeWrites(); // the queue is written from now on
            int discarded = sender.closeAfterFlush(Duration.ofMillis(300));
            assertThat(p.server.isOpen()).isFalse();
            // Only what reached the socket was not discarded: at most a few MiB of kernel buffers.
            assertThat(discarded).isBetween(290, 300);
            assertThat(sender.stats().discarded()).isEqualTo(discarded);
        }
    }

    @Test
    void aSecondGracefulCloseWaitsForTheFirstToCloseNotForThePeersEnd() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            CountDownLatch drainGate = new CountDownLatch(1);
            Thread first = Thread.ofVirtual().start(() -> p.server.closeGracefully(Duration.ofSeconds(30), t -> {
                try {
                    drainGate.await(); // the first close drains until the test lets it go on
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return 0;
            }));
            Awaitility.await().until(() -> first.getState() == Thread.State.WAITING);
            java.util.concurrent.CompletableFuture<Boolean> second = new java.util.concurrent.CompletableFuture<>();
            Thread waiting = Thread.ofVirtual().start(() -> {
                p.server.closeGracefully(Duration.ofSeconds(30));
                second.complete(p.server.isOpen()); // open when it returned: it did not wait for the close
            });
            Awaitility.await().until(() -> waiting.getState() == Thread.State.TIMED_WAITING);

            // The peer's end of stream, read here, is the other event a close may wait for: it
            // must not end the second close's wait for the first one.
            p.client.shutdownOutput();
            assertThatThrownBy(p.server::readUnsignedByte).isInstanceOf(EOFException.class);
            Awaitility.await().pollDelay(Duration.ofMillis(100)).until(() -> second.isDone()
                    || waiting.getState() == Thread.State.TIMED_WAITING);
            assertThat(second).isNotDone();

            drainGate.countDown();
            assertThat(second.get(30, TimeUnit.SECONDS)).as("open when the second close returned").isFalse();
            first.join();
        }
    }

    @Test
    void aHalfClosedPeerStillGetsEveryReplyQueuedForIt() throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(1000)).start();
        try (TestClient client = TestClient.connect(server.address())) {
            int n = 200;
            for (int i = 0; i < n; i++) {
                client.sendFrame(new byte[1000]);
            }
            client.socket().shutdownOutput();
            int replies = 0;
            try {
                while (true) {
                    assertThat(client.readFrame()).hasSize(1000);
                    replies++;
                }
            } catch (EOFException end) {
                // the server closed after the last reply
            }
            assertThat(replies).isEqualTo(n);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aPeerThatSentEverythingAndClosedBeforeTheReaderStartedIsReadToTheEnd() throws Exception {
        // Data and FIN are both in the server's socket before the reader's first read: the end of
        // stream must still be seen after the data (a native transport hears of the FIN only once).
        CountDownLatch sent = new CountDownLatch(1);
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(100))
                .onConnectionStart(s -> {
                    try {
                        sent.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }).start();
        try (TestClient client = TestClient.connect(server.address())) {
            for (int i = 0; i < 3; i++) {
                client.sendFrame(new byte[] {(byte) i});
            }
            client.socket().shutdownOutput();
            sent.countDown();
            for (int i = 0; i < 3; i++) {
                assertThat(client.readFrame()).containsExactly((byte) i);
            }
            assertThat(client.isClosedByServer()).isTrue();
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void shutdownDeliversEveryAcceptedMessageThenClosesAndRunsExitHooks() throws Exception {
        int replies = 200; // 200 x 64 KiB: more than the socket buffers, so most is still queued at shutdown
        AtomicInteger accepted = new AtomicInteger();
        BlockingQueue<Boolean> exited = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            conn.readInt();
            for (int i = 0; i < replies; i++) {
                sender.put(ByteBuffer.allocate(4 + 65536).putInt(65536).putInt(i).array());
                accepted.incrementAndGet();
            }
        }, QueueSender.options().capacity(1000).maxBytes(0)::build).onConnectionExit(s -> exited.add(true)).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(new byte[4]);
            assertThat(ByteBuffer.wrap(client.readFrame()).getInt()).isZero(); // the replies are queued now
            org.awaitility.Awaitility.await().until(() -> accepted.get() == replies);

            BlockingQueue<Boolean> result = new LinkedBlockingQueue<>();
            Thread.ofVirtual().start(() -> {
                try {
                    result.add(server.shutdown(Duration.ofSeconds(20)));
                } catch (InterruptedException e) {
                    result.add(false);
                }
            });
            int received = 1;
            try {
                while (true) {
                    assertThat(ByteBuffer.wrap(client.readFrame()).getInt()).isEqualTo(received);
                    received++;
                }
            } catch (EOFException end) {
                // closed after the last one
            }
            assertThat(received).isEqualTo(replies);
            assertThat(result.poll(20, TimeUnit.SECONDS)).isTrue();
            assertThat(exited.poll(5, TimeUnit.SECONDS)).isTrue();
            assertThat(server.termination()).isCompleted();
        } finally {
            Echo.stop(server); // a no-op once the shutdown has completed; else nothing leaks into the next test
        }
    }

    @RepeatedTest(3)
    void shutdownDeliversEveryAcceptedReplyToAClientThatKeepsSending() throws Exception {
        // The client never stops sending, so the server always has unread input when it closes.
        // Closing then would reset the connection and destroy the replies still in its socket
        // buffer; the server must read on until the client closes instead.
        AtomicInteger accepted = new AtomicInteger();
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            byte[] request = conn.readBytes(conn.readInt());
            sender.put(Echo.frame(request));
            accepted.incrementAndGet();
        }, QueueSender.options().capacity(100_000).maxBytes(0)::build).start();
        java.net.Socket client = new java.net.Socket();
        client.setReceiveBufferSize(16 << 10);
        client.connect(server.address());
        client.setSoTimeout(TestClient.READ_TIMEOUT_MILLIS);
        Thread writer = Thread.ofVirtual().start(() -> {
            try {
                java.io.OutputStream out = new java.io.BufferedOutputStream(client.getOutputStream(), 1 << 16);
                byte[] request = Echo.frame(new byte[1000]);
                while (true) {
                    out.write(request);
                }
            } catch (java.io.IOException closed) {
                // the test closed the socket
            }
        });
        try {
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> accepted.get() >= 3000);
            java.util.concurrent.CompletableFuture<Boolean> shutdown = new java.util.concurrent.CompletableFuture<>();
            Thread.ofVirtual().start(() -> {
                try {
                    shutdown.complete(server.shutdown(Duration.ofSeconds(20)));
                } catch (Throwable t) {
                    shutdown.completeExceptionally(t);
                }
            });
            DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(client.getInputStream()));
            int replies = 0;
            try {
                while (true) {
                    in.readFully(new byte[in.readInt()]);
                    replies++;
                }
            } catch (EOFException end) {
                // the server's FIN after the last reply
            }
            client.close(); // now the server sees our end too and closes
            assertThat(shutdown.get(30, TimeUnit.SECONDS)).isTrue();
            assertThat(replies).isEqualTo(accepted.get());
        } finally {
            client.close();
            writer.join();
            Echo.stop(server);
        }
    }

    @Test
    void shutdownForceClosesAConnectionThatCannotDrainByTheDeadline() throws Exception {
        CountDownLatch queued = new CountDownLatch(1);
        AtomicBoolean exitHookRan = new AtomicBoolean();
        // 200 MiB queued for a peer that does not read: within an outbound budget that holds them.
        TcpServer server = TcpServer.create(Echo.loopback().outboundBudget(256 << 20).build(), (sender, conn) -> {
            conn.readInt();
            for (int i = 0; i < 200; i++) {
                sender.put(new byte[1 << 20]);
            }
            queued.countDown();
        }, QueueSender.options().capacity(1000).maxBytes(0)::build).onConnectionExit(s -> exitHookRan.set(true)).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(new byte[4]);
            assertThat(queued.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(server.shutdown(Duration.ofMillis(300))).isFalse();
            assertThat(exitHookRan).isTrue();
            assertThat(server.termination()).isCompleted();
            assertThat(client.awaitClosedByServer()).isTrue();
        } finally {
            Echo.stop(server);
        }
    }
}
