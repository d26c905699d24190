package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.Echo;
import io.stcp.testing.SocketPair;
import io.stcp.testing.TestClient;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link Sender} is a public interface: one written from scratch runs like the built-in one. */
class CustomSenderTest {

    /**
     * A sender implemented against the interface only: an unbounded queue, and a send loop that
     * writes each message with {@link Connection#write(byte[])}. Close discards what is queued.
     */
    static class MinimalSender implements Sender {
        private static final byte[] STOP = new byte[0];

        private final Connection connection;
        private final BlockingQueue<byte[]> queue = new LinkedBlockingQueue<>();
        private final AtomicBoolean closed = new AtomicBoolean();

        MinimalSender(Connection connection) {
            this.connection = connection;
        }

        @Override
        public Connection connection() {
            return connection;
        }

        @Override
        public void put(byte[] bytes) {
            if (closed.get()) {
                throw new SenderClosedException("sender is closed");
            }
            queue.add(bytes);
        }

        @Override
        public int close() {
            if (!closed.compareAndSet(false, true)) {
                return 0;
            }
            int discarded = queue.size();
            queue.clear();
            queue.add(STOP);
            connection.close();
            return discarded;
        }

        @Override
        public boolean isClosed() {
            return closed.get();
        }

        @Override
        public void sendLoop() throws Exception {
            for (byte[] message = queue.take(); message != STOP; message = queue.take()) {
                connection.write(message);
            }
        }
    }

    /** Reads a frame holding a count n and puts n frames numbered 0..n-1. */
    private static final ConnectionReader NUMBERS = (sender, conn) -> {
        conn.readInt(); // frame length: 4
        int n = conn.readInt();
        for (int i = 0; i < n; i++) {
            sender.put(Echo.frame(ByteBuffer.allocate(4).putInt(i).array()));
        }
    };

    private static byte[] count(int n) {
        return ByteBuffer.allocate(4).putInt(n).array();
    }

    @Test
    void aSenderWrittenFromScratchDeliversInOrderClosesAndRunsTheExitHookUnderTcpServer() throws Exception {
        BlockingQueue<Sender> started = new LinkedBlockingQueue<>();
        BlockingQueue<Sender> exited = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(), NUMBERS, MinimalSender::new)
                .onConnectionStart(started::add)
                .onConnectionExit(exited::add)
                .start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendFrame(count(100));
            for (int i = 0; i < 100; i++) {
                assertThat(ByteBuffer.wrap(client.readFrame()).getInt()).isEqualTo(i);
            }

            Sender sender = started.poll(10, TimeUnit.SECONDS);
            assertThat(sender).isInstanceOf(MinimalSender.class);
            sender.close();
            assertThat(client.awaitClosedByServer()).as("close() ends the connection").isTrue();
            assertThat(exited.poll(10, TimeUnit.SECONDS)).as("the exit hook ran for this sender").isSameAs(sender);
            assertThatThrownBy(() -> sender.put(new byte[1])).isInstanceOf(SenderClosedException.class);
            Awaitility.await().until(() -> server.connectionCount() == 0);
        } finally {
            Echo.stop(server);
        }
        assertThat(exited).as("the exit hook ran once").isEmpty();
    }

    @Test
    void aSenderWrittenFromScratchDeliversInOrderClosesAndRunsTheExitHookUnderConnectionRunner()
            throws Exception {
        try (SocketPair p = SocketPair.open()) {
            MinimalSender sender = new MinimalSender(p.server);
            AtomicInteger exits = new AtomicInteger();
            ConnectionRunner runner = ConnectionRunner.create(NUMBERS, sender)
                    .addExitHook(s -> exits.incrementAndGet());
            runner.start();

            p.clientWrite(Echo.frame(count(50)));
            DataInputStream in = new DataInputStream(Channels.newInputStream(p.client));
            for (int i = 0; i < 50; i++) {
                assertThat(in.readInt()).isEqualTo(4);
                assertThat(in.readInt()).isEqualTo(i);
            }

            sender.close();
            assertThat(runner.awaitExit(Duration.ofSeconds(10))).as("close() ends the connection").isTrue();
            assertThat(exits).as("the exit hook ran once").hasValue(1);
            assertThat(in.read()).as("the peer sees the close").isEqualTo(-1);
            assertThat(runner.sender()).isSameAs(sender);
        }
    }

    @Test
    void aSendLoopThatIgnoresCloseIsInterruptedSoTheExitHooksStillRun() throws Exception {
        // A broken custom sender: close() does not wake its loop, which waits for good.
        BlockingQueue<Boolean> exited = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, conn -> new MinimalSender(conn) {
                    @Override
                    public void sendLoop() throws Exception {
                        new java.util.concurrent.CountDownLatch(1).await();
                    }
                })
                .onConnectionExit(s -> exited.add(true))
                .start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.close(); // EOF: the connection ends, and its send loop never returns by itself
            assertThat(exited.poll(10, TimeUnit.SECONDS)).as("the exit hook ran").isTrue();
            Awaitility.await().until(() -> server.connectionCount() == 0);
        } finally {
            Echo.stop(server);
        }
    }

    @ParameterizedTest(name = "needsSendThread {0}")
    @ValueSource(booleans = {true, false})
    void theSendLoopRunsOnlyForASenderThatNeedsASendThread(boolean needsSendThread) throws Exception {
        AtomicInteger loops = new AtomicInteger();
        BlockingQueue<Boolean> exited = new LinkedBlockingQueue<>();
        // Writes on the caller's thread; its send loop has nothing to do.
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, conn -> new MinimalSender(conn) {
                    @Override
                    public void put(byte[] bytes) {
                        try {
                            connection().write(bytes);
                        } catch (IOException e) {
                            throw new SenderClosedException(e.getMessage());
                        }
                    }

                    @Override
                    public void sendLoop() {
                        loops.incrementAndGet();
                    }

                    @Override
                    public boolean needsSendThread() {
                        return needsSendThread;
                    }
                })
                .onConnectionExit(s -> exited.add(true))
                .start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendFrame(count(7));
            assertThat(client.readFrame()).isEqualTo(count(7));
            client.close();
            assertThat(exited.poll(10, TimeUnit.SECONDS)).as("the exit hook ran").isTrue();
        } finally {
            Echo.stop(server);
        }
        assertThat(loops).hasValue(needsSendThread ? 1 : 0);
    }
}
