package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stcp.internal.Transports;
import io.stcp.testing.Echo;
import io.stcp.testing.SocketPair;
import io.stcp.testing.TestClient;
import java.io.DataInputStream;
import java.io.EOFException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code QueueSender.Options.batchReplies(true)}: on the epoll transport the reader writes the
 * replies to pipelined requests itself before anything that could wait; elsewhere a send thread
 * does. Either way nothing is lost, reordered or left waiting.
 */
class BatchRepliesTest {
    private static final boolean READER_WRITES = !Transports.name().equals("jdk");

    private static QueueSender.Options batching(int capacity) {
        return QueueSender.options().capacity(capacity).maxBytes(0).writeInline(true).batchReplies(true);
    }

    private static byte[] intFrame(int value) {
        return ByteBuffer.allocate(8).putInt(4).putInt(value).array();
    }

    @Test
    void pipelinedFramesOfEverySizeComeBackWholeAndInOrderWithPushesInterleaved() throws Exception {
        int connections = 12;
        int frames = 300;
        // Besides echoing, the reader has a push put from another thread after every 16th frame:
        // pushes and echoes each keep their own order, and none is lost or torn.
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            int len = conn.readInt();
            byte[] body = conn.readBytes(len);
            sender.put(Echo.frame(body));
            if (body.length > 0 && body[0] % 16 == 0) {
                Thread.ofVirtual().start(() -> sender.put(Echo.frame(new byte[0]))).join();
            }
        }, batching(4 * frames)::build).start();
        try {
            List<CompletableFuture<Void>> clients = new ArrayList<>();
            for (int c = 0; c < connections; c++) {
                long seed = c;
                clients.add(CompletableFuture.runAsync(() -> exchange(server, seed, frames)));
            }
            CompletableFuture.allOf(clients.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        } finally {
            Echo.stop(server);
        }
    }

    /** Writes {@code frames} frames of 1 to 20,000 bytes from one thread while this one checks the echoes. */
    private static void exchange(TcpServer server, long seed, int frames) {
        try (TestClient client = TestClient.connect(server.address())) {
            Random random = new Random(seed);
            List<byte[]> sent = new ArrayList<>();
            for (int i = 0; i < frames; i++) {
                byte[] body = new byte[1 + random.nextInt(random.nextBoolean() ? 64 : 20_000)];
                random.nextBytes(body);
                body[0] = (byte) i;
                sent.add(body);
            }
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    for (byte[] body : sent) {
                        client.sendFrame(body);
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            int pushes = 0;
            int next = 0;
            while (next < frames) {
                byte[] got = client.readFrame();
                if (got.length == 0) {
                    pushes++;
                    continue;
                }
                assertThat(got).as("echo %d", next).isEqualTo(sent.get(next));
                next++;
            }
            long expectedPushes = sent.stream().filter(b -> b[0] % 16 == 0).count();
            while (pushes < expectedPushes) {
                assertThat(client.readFrame()).isEmpty();
                pushes++;
            }
            writer.join();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void theReaderWritesSmallRepliesItselfOnEpollAndASendThreadDoesOnTheJdkTransport() throws Exception {
        // Requests 1 and 2 arrive together; request 1's reader puts 1,024 replies of 32 KiB (more
        // than the socket buffers hold) into a queue of 8. On epoll the reader writes them itself,
        // a batch at a time, so it is stuck in that write until the client reads; on the JDK's
        // sockets a send thread writes them and the reader waits for room in the queue.
        int replies = 1024;
        int body = 32 * 1024;
        BlockingQueue<Integer> seen = new LinkedBlockingQueue<>();
        AtomicReference<Thread> readerOfOne = new AtomicReference<>();
        TcpServer server = TcpServer.create(Echo.loopback().writeTimeout(Duration.ofSeconds(60)).build(),
                (sender, conn) -> {
                    int request = conn.readInt();
                    seen.add(request);
                    if (request == 1) {
                        readerOfOne.set(Thread.currentThread());
                        for (int i = 0; i < replies; i++) {
                            sender.put(ByteBuffer.allocate(8 + body).putInt(4 + body).putInt(i).array());
                        }
                    }
                }, batching(8)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(ByteBuffer.allocate(8).putInt(1).putInt(2).array());
            assertThat(seen.poll(10, TimeUnit.SECONDS)).isEqualTo(1);
            // The reader's stack: writing a batch itself, or waiting for room while a send thread writes.
            // One look at the stack for both: the reader passes through a write of its own between
            // batches that fit in the socket before it is stuck in one, so two looks could disagree.
            String where = READER_WRITES ? "payOwed" : "awaitRoom";
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                StackTraceElement[] stack = readerOfOne.get().getStackTrace();
                return inStack(stack, where) && inStack(stack, "payOwed") == READER_WRITES;
            });
            DataInputStream in = new DataInputStream(client.socket().getInputStream());
            for (int i = 0; i < replies; i++) {
                assertThat(in.readInt()).isEqualTo(4 + body);
                assertThat(in.readInt()).isEqualTo(i);
                in.readFully(new byte[body]);
            }
            assertThat(seen.poll(10, TimeUnit.SECONDS)).as("request 2 read once the replies were").isEqualTo(2);
        } finally {
            Echo.stop(server);
        }
    }

    @ParameterizedTest(name = "small reply first: {0}")
    @ValueSource(booleans = {false, true})
    void aLargeReplyIsWrittenByASendThreadWhileTheReaderGoesOn(boolean smallFirst) throws Exception {
        // Requests 1 and 2 arrive together; request 1's reply (48 MiB, more than the socket
        // buffers hold) is put while request 2 is buffered — after a small reply the reader then
        // owes, or alone. On every transport a send thread writes it, and the reader reads
        // requests 2 and 3 while the client has not read it yet.
        int body = 48 << 20;
        BlockingQueue<Integer> seen = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().writeTimeout(Duration.ofSeconds(60)).build(),
                (sender, conn) -> {
                    int request = conn.readInt();
                    if (request == 1) {
                        if (smallFirst) {
                            sender.put(intFrame(-1));
                        }
                        sender.put(ByteBuffer.allocate(4 + body).putInt(body).array());
                    }
                    seen.add(request);
                }, batching(8)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(ByteBuffer.allocate(8).putInt(1).putInt(2).array());
            assertThat(seen.poll(10, TimeUnit.SECONDS)).isEqualTo(1);
            assertThat(seen.poll(10, TimeUnit.SECONDS)).isEqualTo(2);
            client.sendRaw(ByteBuffer.allocate(4).putInt(3).array());
            assertThat(seen.poll(10, TimeUnit.SECONDS)).as("request 3 read while the reply is unread").isEqualTo(3);
            DataInputStream in = new DataInputStream(client.socket().getInputStream());
            if (smallFirst) {
                assertThat(in.readLong()).isEqualTo(ByteBuffer.wrap(intFrame(-1)).getLong());
            }
            assertThat(in.readInt()).isEqualTo(body);
            in.readFully(new byte[body]);
        } finally {
            Echo.stop(server);
        }
    }

    private static boolean inStack(Thread t, String method) {
        return inStack(t.getStackTrace(), method);
    }

    private static boolean inStack(StackTraceElement[] stack, String method) {
        return Arrays.stream(stack).anyMatch(f -> f.getMethodName().equals(method));
    }

    @Test
    void aReaderWhosePutWouldWaitForRoomWritesWhatItOwesFirst() throws Exception {
        // 64 requests in one write, a queue of 4, a 60 s write timeout: if the fifth put waited for
        // room while the reader still owed the write of the first four, it would wait a minute.
        int requests = 64;
        TcpServer server = TcpServer.create(Echo.loopback().writeTimeout(Duration.ofSeconds(60)).build(),
                (sender, conn) -> sender.put(intFrame(conn.readInt() * 10)), batching(4)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            int[] values = new int[requests];
            Arrays.setAll(values, i -> i);
            client.sendRaw(toBytes(values));
            DataInputStream in = new DataInputStream(client.socket().getInputStream());
            for (int i = 0; i < requests; i++) {
                assertThat(in.readInt()).isEqualTo(4);
                assertThat(in.readInt()).isEqualTo(i * 10);
            }
        } finally {
            Echo.stop(server);
        }
    }

    private static byte[] toBytes(int[] values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length);
        for (int v : values) {
            b.putInt(v);
        }
        return b.array();
    }

    @ParameterizedTest(name = "split at {0}")
    @ValueSource(ints = {2, 6})
    void aReaderWaitingForTheRestOfAFrameWritesWhatItOwesFirst(int split) throws Exception {
        // The client sends a frame and part of the next (inside its length, or its body), and the
        // rest only once it has the first reply: the reader, waiting for that rest (for any byte,
        // or for the body's), must have written the reply it owes.
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, batching(16)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            byte[] second = Echo.frame("second".getBytes());
            client.sendRaw(concat(Echo.frame("first".getBytes()), Arrays.copyOf(second, split)));
            assertThat(new String(client.readFrame())).isEqualTo("first");
            client.sendRaw(Arrays.copyOfRange(second, split, second.length));
            assertThat(new String(client.readFrame())).isEqualTo("second");
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aReaderThatClosesAfterFlushWritesWhatItOwesFirst() throws Exception {
        // Requests 1, 2, 3 and "quit" (0) in one write: the reader puts three replies, then a last
        // one and closes after flushing. Were the first three still owed, the flush would wait
        // for them until its timeout and discard them.
        BlockingQueue<Integer> discarded = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            int request = conn.readInt();
            sender.put(intFrame(request == 0 ? -1 : request));
            if (request == 0) {
                discarded.add(sender.closeAfterFlush(Duration.ofSeconds(30)));
            }
        }, batching(16)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(toBytes(new int[] {1, 2, 3, 0}));
            DataInputStream in = new DataInputStream(client.socket().getInputStream());
            for (int expected : new int[] {1, 2, 3, -1}) {
                assertThat(in.readInt()).isEqualTo(4);
                assertThat(in.readInt()).isEqualTo(expected);
            }
            assertThat(in.read()).as("closed after the last reply").isEqualTo(-1);
            assertThat(discarded.poll(10, TimeUnit.SECONDS)).isZero();
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void repliesOwedWhenThePeerEndsItsStreamAreWrittenBeforeTheClose() throws Exception {
        // Two requests and the FIN in one go: the reader's last read finds the end of stream with
        // both replies still owed; the connection's end flushes them.
        TcpServer server = TcpServer.create(Echo.loopback().build(),
                (sender, conn) -> sender.put(intFrame(conn.readInt())), batching(16)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(toBytes(new int[] {7, 8}));
            client.socket().shutdownOutput();
            DataInputStream in = new DataInputStream(client.socket().getInputStream());
            assertThat(in.readLong()).isEqualTo(ByteBuffer.wrap(intFrame(7)).getLong());
            assertThat(in.readLong()).isEqualTo(ByteBuffer.wrap(intFrame(8)).getLong());
            try {
                in.readByte();
                throw new AssertionError("expected the end of stream");
            } catch (EOFException expected) {
                // the server closed after the replies
            }
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * The server's stop begins on another thread while the reader, in its call, owes the write of a
     * reply: a graceful stop lets that call finish, and its drain waits for the write token held for
     * the reply. Whatever the reader does next in the call, the reply is written and the stop
     * completes once the call has returned, within its grace, not at its end.
     */
    @ParameterizedTest(name = "the reader then {0}")
    @ValueSource(strings = {"puts again", "closes after flush", "closes"})
    void aReplyOwedWhenTheServersStopBeginsIsWrittenAndTheStopDoesNotWaitForIt(String then) throws Exception {
        Duration grace = Duration.ofSeconds(60);
        AtomicReference<TcpServer> running = new AtomicReference<>();
        CompletableFuture<Boolean> stopped = new CompletableFuture<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            int request = conn.readInt();
            sender.put(intFrame(request * 10)); // owed: request 2 is buffered already
            if (request == 1) {
                Thread.ofVirtual().start(() -> {
                    try {
                        stopped.complete(running.get().shutdown(grace));
                    } catch (Throwable t) {
                        stopped.completeExceptionally(t);
                    }
                });
                // The stop has reached this connection: it records its reason before anything else.
                await().atMost(Duration.ofSeconds(20)).until(() -> conn.closeReason() == CloseReason.SHUTDOWN);
                switch (then) {
                    case "closes after flush" -> sender.closeAfterFlush(grace);
                    case "closes" -> conn.close();
                    default -> sender.put(intFrame(11)); // taken: the call in progress may still answer
                }
            }
        }, batching(16)::build).start();
        running.set(server);
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(toBytes(new int[] {1, 2}));
            client.socket().setSoTimeout(20_000);
            DataInputStream in = new DataInputStream(client.socket().getInputStream());
            if (!then.equals("closes")) {
                assertThat(in.readInt()).isEqualTo(4);
                assertThat(in.readInt()).as("the reply accepted before the stop").isEqualTo(10);
                if (then.equals("puts again")) {
                    assertThat(in.readInt()).isEqualTo(4);
                    assertThat(in.readInt()).as("a reply put in the call in progress after the stop began").isEqualTo(11);
                }
            }
            client.close();
            boolean drained = stopped.get(20, TimeUnit.SECONDS); // long before the grace ends
            if (!then.equals("closes")) {
                assertThat(drained).as("the stop wrote all there was").isTrue();
            }
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aReaderThatOwesTheWriteOfAReplyAndFansOutToAGroupItIsInDoesNotWaitForItself() throws Exception {
        // A queue of one, full with the reply the reader owes the write of, and no write timeout,
        // so no limit on how long the reader's put may wait for room: the fan-out to a group the
        // connection is in (a chat room) must not wait for room that only its own reader can make.
        ConnectionRegistry registry = ConnectionRegistry.create();
        CompletableFuture<SendResult> result = new CompletableFuture<>();
        TcpServer server = TcpServer.create(Echo.loopback().writeTimeout(Duration.ZERO).build(), (sender, conn) -> {
            int request = conn.readInt();
            registry.joinGroup(sender, "room");
            sender.put(intFrame(request * 10));
            result.complete(registry.sendToGroup("room", intFrame(-1)));
        }, QueueSender.options().capacity(1).batchReplies(true)::build).registry(registry).start(); // queued, not written inline
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(toBytes(new int[] {1}));
            assertThat(result.get(20, TimeUnit.SECONDS)).isEqualTo(new SendResult(1, 0, 0, 0, 0));
            DataInputStream in = new DataInputStream(client.socket().getInputStream());
            assertThat(in.readLong()).isEqualTo(ByteBuffer.wrap(intFrame(10)).getLong());
            assertThat(in.readLong()).isEqualTo(ByteBuffer.wrap(intFrame(-1)).getLong());
        } finally {
            Echo.stop(server);
        }
    }

    /** A member of {@code registry} in {@code groups} whose queue of one is full and not written until resumed: BLOCK, 20 s. */
    private static QueueSender fullBlockingMember(ConnectionRegistry registry, SocketPair pair, String... groups) {
        QueueSender q = QueueSenderTesting.holdWrites(QueueSender.options().capacity(1)
                .overflow(OverflowPolicy.BLOCK).blockTimeout(Duration.ofSeconds(20)).build(pair.server));
        q.put(new byte[] {0});
        io.stcp.internal.RealConnectionRegistry.of(registry).add(q);
        for (String g : groups) {
            registry.joinGroup(q, g);
        }
        return q;
    }

    @Test
    void aReaderThatOwesTheWriteOfAReplyWritesItBeforeItsFanoutWaitsForAnotherRecipient() throws Exception {
        // The reader puts a reply (owed, on epoll) and fans out to a group whose one member is
        // full for 20 s: its own peer must have the reply while the fan-out still waits, not after.
        ConnectionRegistry registry = ConnectionRegistry.create();
        CompletableFuture<SendResult> result = new CompletableFuture<>();
        try (SocketPair pair = SocketPair.open()) {
            QueueSender full = fullBlockingMember(registry, pair, "room");
            TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
                sender.put(intFrame(conn.readInt() * 10));
                result.complete(registry.sendToGroup("room", intFrame(-1)));
            }, QueueSender.options().capacity(16).batchReplies(true)::build).start(); // queued, not written inline
            try (TestClient client = TestClient.connect(server.address())) {
                client.sendRaw(toBytes(new int[] {1}));
                DataInputStream in = new DataInputStream(client.socket().getInputStream());
                assertThat(in.readLong()).isEqualTo(ByteBuffer.wrap(intFrame(10)).getLong()); // within the client's 5 s
                assertThat(result).as("the fan-out still waits for the full member").isNotDone();
                QueueSenderTesting.resumeWrites(full);
                assertThat(result.get(10, TimeUnit.SECONDS)).isEqualTo(new SendResult(1, 0, 0, 0, 0));
            } finally {
                full.close();
                Echo.stop(server);
            }
        }
    }

    @Test
    void aFanoutToldOfRoomDoesNotWaitForAnEarlierOneWhoseReaderWritesWhatItOwes() throws Exception {
        // Only a reader that owes a drain writes it itself, on epoll; elsewhere a send thread does.
        org.junit.jupiter.api.Assumptions.assumeTrue(READER_WRITES);
        // The reader owes a reply of 60,000 bytes its peer does not read (both socket buffers
        // small), and fans out to a group of a full member and itself (its queue of one full
        // with the reply): it writes the reply, stuck until its peer reads. A second fan-out
        // waits for room at the full member; when room comes there, it must have it, not wait
        // for the first while it writes (it would sit out that write, up to the write timeout).
        ConnectionRegistry registry = ConnectionRegistry.create();
        CompletableFuture<SendResult> first = new CompletableFuture<>();
        AtomicReference<Thread> reader = new AtomicReference<>();
        int reply = 60_000;
        try (SocketPair pair = SocketPair.open(); java.nio.channels.SocketChannel client = java.nio.channels.SocketChannel.open()) {
            QueueSender full = fullBlockingMember(registry, pair, "g", "only-the-full-one");
            TcpServer server = TcpServer.create(Echo.loopback().writeTimeout(Duration.ofSeconds(30)).build(), (sender, conn) -> {
                conn.readInt();
                conn.channel().setOption(java.net.StandardSocketOptions.SO_SNDBUF, 4096);
                reader.set(Thread.currentThread());
                registry.joinGroup(sender, "g"); // after the full member: the fan-out comes to it first
                sender.put(new byte[reply]);
                first.complete(registry.sendToGroup("g", new byte[] {1}));
            }, QueueSender.options().capacity(1).batchReplies(true)::build).registry(registry).start();
            Thread second = null;
            try {
                client.setOption(java.net.StandardSocketOptions.SO_RCVBUF, 4096);
                client.connect(server.address());
                client.write(ByteBuffer.wrap(toBytes(new int[] {1})));
                await().atMost(Duration.ofSeconds(10)).until(() -> reader.get() != null
                        && inStack(reader.get().getStackTrace(), "payOwed"));
                CompletableFuture<SendResult> secondResult = new CompletableFuture<>();
                second = Thread.ofVirtual().start(() -> secondResult.complete(registry.sendToGroup("only-the-full-one", new byte[] {2})));
                Thread s = second;
                await().atMost(Duration.ofSeconds(10)).until(() -> s.getState() == Thread.State.TIMED_WAITING
                        && inStack(s.getStackTrace(), "awaitRoom"));
                QueueSenderTesting.resumeWrites(full); // one message written: room for one
                assertThat(secondResult.get(5, TimeUnit.SECONDS)).isEqualTo(new SendResult(1, 0, 0, 0, 0));
                assertThat(first).as("the first still writes its reply").isNotDone();

                DataInputStream in = new DataInputStream(java.nio.channels.Channels.newInputStream(client));
                in.readFully(new byte[reply]); // now the first goes on, and waits for room again
                full.close();
                SendResult r = first.get(10, TimeUnit.SECONDS); // the full member took it, or closed first
                assertThat(r.accepted() + r.closed()).isEqualTo(2);
                assertThat(r.accepted()).isPositive();
                assertThat(in.readByte()).isEqualTo((byte) 1);
            } finally {
                full.close();
                client.close();
                Echo.stop(server);
                if (second != null) {
                    second.join(Duration.ofSeconds(10));
                }
            }
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
