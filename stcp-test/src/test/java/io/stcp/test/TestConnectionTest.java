package io.stcp.test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.CloseReason;
import io.stcp.ConnectionHook;
import io.stcp.ConnectionReader;
import io.stcp.ConnectionRegistry;
import io.stcp.FrameTimeoutException;
import io.stcp.ReadTimeoutException;
import io.stcp.Sender;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.framing.DelimiterEncoder;
import io.stcp.framing.DelimiterReader;
import io.stcp.framing.FrameTooLongException;
import io.stcp.framing.LengthFieldEncoder;
import io.stcp.framing.LengthFieldReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class TestConnectionTest {
    private static final LengthFieldEncoder ENCODER = LengthFieldEncoder.standard();
    private static final ConnectionReader ECHO = LengthFieldReader.builder().maxFrameLength(64)
            .build((sender, body) -> sender.put(ENCODER.encode(body)));

    @Test
    void aNullSettingIsRefusedAtItsSetterByItsName() {
        TestConnection.Builder b = TestConnection.builder((sender, conn) -> conn.readFully(new byte[1]));
        assertThatThrownBy(() -> b.config(null)).isInstanceOf(NullPointerException.class).hasMessage("config");
        assertThatThrownBy(() -> b.peerAddress(null)).isInstanceOf(NullPointerException.class).hasMessage("peerAddress");
        assertThatThrownBy(() -> b.localAddress(null)).isInstanceOf(NullPointerException.class).hasMessage("localAddress");
        assertThatThrownBy(() -> b.senderFactory(null)).isInstanceOf(NullPointerException.class).hasMessage("senderFactory");
        assertThatThrownBy(() -> b.onConnectionStart(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("onConnectionStart");
        assertThatThrownBy(() -> b.onConnectionExit(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("onConnectionExit");
        assertThatThrownBy(() -> TestConnection.builder(null)).isInstanceOf(NullPointerException.class).hasMessage("reader");
    }

    @Test
    void theConnectionsReportTheAddressesTheBuilderGivesThem() throws Exception {
        InetSocketAddress peerAddress = new InetSocketAddress(InetAddress.getByAddress(new byte[] {10, 1, 2, 3}), 5555);
        InetSocketAddress localAddress = new InetSocketAddress(InetAddress.getByAddress(new byte[] {10, 9, 9, 9}), 7000);
        ConnectionReader whoIsThere = (sender, conn) -> {
            conn.readBytes(1);
            sender.put((conn.remoteAddress() + " " + conn.localAddress() + "\n").getBytes(StandardCharsets.UTF_8));
        };
        try (TestConnection peer = TestConnection.builder(whoIsThere).peerAddress(peerAddress).localAddress(localAddress).start()) {
            peer.feed(new byte[1]);
            String expected = peerAddress + " " + localAddress + "\n";
            assertThat(peer.readText(expected.length())).isEqualTo(expected);
        }
        try (TestConnection peer = TestConnection.start(whoIsThere)) {
            assertThat(peer.connection().remoteAddress()).isEqualTo(new InetSocketAddress("127.0.0.1", 40_000));
        }
    }

    @Test
    void aServersTimeoutsApplyInRealTime() throws Exception {
        ServerConfig firstFrame = ServerConfig.builder().firstFrameTimeout(Duration.ofMillis(200)).build();
        try (TestConnection silent = TestConnection.builder(ECHO).config(firstFrame).start()) {
            assertThat(silent.awaitClose()).isEqualTo(CloseReason.FRAME_TIMEOUT); // no frame within 200 ms
        }
        ServerConfig idle = ServerConfig.builder().readIdleTimeout(Duration.ofMillis(200)).build();
        try (TestConnection silent = TestConnection.builder(ECHO).config(idle).start()) {
            assertThat(silent.awaitClose()).isEqualTo(CloseReason.READ_TIMEOUT); // nothing read for 200 ms
        }
    }

    @Test
    void aServersInboundBudgetRefusesAValueLargerThanIt() throws Exception {
        int size = 1 << 20;
        ConnectionReader large = (sender, conn) -> {
            byte[] value = conn.readBytes(size);
            sender.put(ENCODER.encode(Integer.toString(value.length).getBytes(StandardCharsets.UTF_8)));
        };
        byte[][] chunks = new byte[size / 16_384][];
        java.util.Arrays.setAll(chunks, i -> new byte[16_384]);
        try (TestConnection roomy = TestConnection.builder(large).config(ServerConfig.defaults()).start()) {
            roomy.feed(chunks);
            assertThat(roomy.readText(11)).endsWith("1048576"); // a budget of an eighth of the heap: room
        }
        ServerConfig tight = ServerConfig.builder().inboundBudget(64 * 1024).build();
        try (TestConnection peer = TestConnection.builder(large).config(tight).start()) {
            peer.feed(chunks);
            assertThat(peer.awaitClose()).isEqualTo(CloseReason.PROTOCOL_ERROR);
            assertThat(peer.closeCause()).isInstanceOf(FrameTooLongException.class).hasMessageContaining("inbound budget of 65536");
            assertThat(peer.readAvailable()).isEmpty();
        }
    }

    @Test
    void aConfigurationWithTlsOrThePROXYProtocolIsRefused() {
        ServerConfig proxied = ServerConfig.builder().proxyProtocol(io.stcp.ProxyProtocol.required("127.0.0.1")).build();
        assertThatThrownBy(() -> TestConnection.builder(ECHO).config(proxied))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("PROXY protocol");
    }

    @Test
    void aFrameSplitAcrossReadsIsEchoedWholeAndEndOfStreamEndsTheConnection() throws Exception {
        try (TestConnection peer = TestConnection.start(ECHO)) {
            peer.feed(new byte[] {0, 0}, new byte[] {0, 2}, "h".getBytes(), "i".getBytes());
            assertThat(peer.read(6)).containsExactly(0, 0, 0, 2, 'h', 'i');
            peer.endInput();
            assertThat(peer.awaitClose()).isEqualTo(CloseReason.PEER_CLOSED);
            assertThat(peer.isOutputShut()).isTrue(); // a graceful close: FIN after the last reply
        }
    }

    @Test
    void repliesAcceptedBeforeAProtocolErrorAreWrittenThenTheConnectionEnds() throws Exception {
        try (TestConnection peer = TestConnection.start(ECHO)) {
            peer.feed(ENCODER.encode("one".getBytes()), ENCODER.encode(new byte[100])); // 100 > 64
            assertThat(peer.read(7)).endsWith("one".getBytes());
            assertThat(peer.awaitClose()).isEqualTo(CloseReason.PROTOCOL_ERROR);
            assertThat(peer.closeCause()).isInstanceOf(FrameTooLongException.class);
        }
    }

    @Test
    void aReadTimeoutCanBeCaughtByTheReaderOrEndTheConnection() throws Exception {
        AtomicInteger pings = new AtomicInteger();
        byte[] ping = DelimiterEncoder.lines().encode("PING".getBytes());
        ConnectionReader heartbeat = (sender, conn) -> {
            try {
                byte[] line = conn.readLine(100);
                if (line == null) {
                    throw new java.io.EOFException();
                }
                sender.put(DelimiterEncoder.lines().encode(line));
            } catch (FrameTimeoutException e) {
                throw e;
            } catch (ReadTimeoutException e) {
                if (pings.incrementAndGet() > 1) {
                    throw e; // silent twice: give up
                }
                sender.put(ping);
            }
        };
        try (TestConnection peer = TestConnection.start(heartbeat)) {
            peer.timeoutNextRead();
            assertThat(peer.readText(5)).isEqualTo("PING\n");
            peer.feed("hello\r\n");
            assertThat(peer.readText(6)).isEqualTo("hello\n");
            peer.timeoutNextRead();
            assertThat(peer.awaitClose()).isEqualTo(CloseReason.READ_TIMEOUT);
        }
    }

    @Test
    void aSimulatedReadTimeoutSaysWhatARealOneSaysOrThatItWasSimulated() throws Exception {
        java.util.concurrent.BlockingQueue<ReadTimeoutException> timeouts = new java.util.concurrent.LinkedBlockingQueue<>();
        ConnectionReader recording = (sender, conn) -> {
            try {
                conn.readUnsignedByte();
            } catch (ReadTimeoutException e) {
                timeouts.add(e);
            }
        };
        // The read timeout of 50 ms really passes: what a real timeout says.
        try (TestConnection peer = TestConnection.start(recording, SenderFactory.queue(8),
                s -> s.connection().readTimeout(Duration.ofMillis(50)))) {
            ReadTimeoutException real = timeouts.poll(10, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(real).as("a real timeout").isNotNull();
            assertThat(real.getMessage()).isEqualTo("no data within the read timeout of 50ms");
        }
        // The same read timeout, simulated long before it passes: the same words.
        try (TestConnection peer = TestConnection.start(recording, SenderFactory.queue(8),
                s -> s.connection().readTimeout(Duration.ofSeconds(20)))) {
            peer.timeoutNextRead();
            ReadTimeoutException simulated = timeouts.poll(10, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(simulated).as("a simulated timeout").isNotNull();
            assertThat(simulated.getMessage()).isEqualTo("no data within the read timeout of 20s");
        }
        // No read timeout or deadline in force: no real timeout could say anything, so it says it was simulated.
        try (TestConnection peer = TestConnection.start(recording)) {
            peer.timeoutNextRead();
            ReadTimeoutException simulated = timeouts.poll(10, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(simulated).as("a simulated timeout").isNotNull();
            assertThat(simulated.getMessage()).contains("simulated").contains("timeoutNextRead")
                    .doesNotContain("0s");
        }
        // Inside a frame the frame timeout (30 s) is in force: a frame timeout, which ends the connection.
        ConnectionReader shorts = (sender, conn) -> {
            try {
                conn.readUnsignedShort();
            } catch (ReadTimeoutException e) {
                timeouts.add(e);
            }
        };
        try (TestConnection peer = TestConnection.start(shorts)) {
            peer.feed(new byte[] {1}).timeoutNextRead();
            ReadTimeoutException simulated = timeouts.poll(10, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(simulated).isInstanceOf(FrameTimeoutException.class)
                    .hasMessage("frame not completed within the frame timeout of 30s");
            assertThat(peer.awaitClose()).isEqualTo(CloseReason.FRAME_TIMEOUT);
        }
    }

    /** A chat reader: "/nick NAME" and "/join ROOM" bind and answer "ok", "/say ROOM TEXT" sends to the room. */
    private static ConnectionReader chat(ConnectionRegistry registry) {
        return DelimiterReader.builder().lines().build((me, bytes) -> {
            String[] w = new String(bytes, StandardCharsets.UTF_8).split(" ", 3);
            switch (w[0]) {
                case "/nick" -> me.put(line(registry.bindUser(me, w[1]) ? "ok" : "no"));
                case "/join" -> me.put(line(registry.joinGroup(me, w[1]) ? "ok" : "no"));
                case "/say" -> registry.sendToGroup(w[1], line(registry.userOf(me) + ": " + w[2]));
                default -> me.put(line("?"));
            }
        });
    }

    private static byte[] line(String text) {
        return DelimiterEncoder.lines().encode(text.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void connectionsOfARegistryAreBoundGroupedReachedByItsSendsAndRemovedWhenTheyEnd() throws Exception {
        ConnectionRegistry registry = ConnectionRegistry.create();
        ConnectionReader chat = chat(registry);
        AtomicInteger boundAtStart = new AtomicInteger();
        TestConnection.Builder member = TestConnection.builder(chat).registry(registry)
                .onConnectionStart(s -> boundAtStart.addAndGet(registry.joinGroup(s, "everyone") ? 1 : 0));
        try (TestConnection alice = member.start(); TestConnection bob = member.start()) {
            Sender a = alice.sender(); // returns once the connection has started: a member by then
            Sender b = bob.sender();
            assertThat(registry.connection(alice.connection().id())).isSameAs(a);
            assertThat(registry.connection(bob.connection().id())).isSameAs(b);
            assertThat(registry.connectionCount()).isEqualTo(2);
            alice.feed("/nick alice\n/join lobby\n");
            assertThat(alice.readText(6)).isEqualTo("ok\nok\n");
            bob.feed("/nick bob\n/join lobby\n");
            assertThat(bob.readText(6)).isEqualTo("ok\nok\n");
            assertThat(registry.userOf(alice.sender())).isEqualTo("alice");
            assertThat(registry.groupsOf(bob.sender())).containsExactlyInAnyOrder("everyone", "lobby");

            bob.feed("/say lobby hi\n"); // fan-out: through each member's sender to its peer
            assertThat(alice.readText(8)).isEqualTo("bob: hi\n");
            assertThat(bob.readText(8)).isEqualTo("bob: hi\n");
            assertThat(registry.sendToUser("alice", line("psst")).accepted()).isEqualTo(1);
            assertThat(alice.readText(5)).isEqualTo("psst\n");
            assertThat(registry.broadcast(line("all")).accepted()).isEqualTo(2);
            assertThat(alice.readText(4)).isEqualTo("all\n");
            assertThat(bob.readText(4)).isEqualTo("all\n");

            bob.endInput();
            assertThat(bob.awaitClose()).isEqualTo(CloseReason.PEER_CLOSED);
            // Out of the registry, with every binding, once its end is seen.
            assertThat(registry.connection(bob.connection().id())).isNull();
            assertThat(registry.user("bob")).isEmpty();
            assertThat(registry.group("lobby")).containsExactly(alice.sender());
            assertThat(registry.bindUser(bob.sender(), "bob")).as("an ended connection cannot be bound").isFalse();
            assertThat(registry.connectionCount()).isEqualTo(1);
        }
        assertThat(boundAtStart).as("each start hook found its connection registered").hasValue(2);
        assertThat(registry.connectionCount()).as("close() removed the other").isZero();
        assertThat(registry.users()).isEmpty();
        assertThat(registry.groups()).isEmpty();
    }

    @Test
    void exitHooksRunOnceAfterTheLoopsAndStillSeeTheConnectionsBindings() throws Exception {
        ConnectionRegistry registry = ConnectionRegistry.create();
        java.util.List<String> exits = new java.util.concurrent.CopyOnWriteArrayList<>();
        ConnectionHook tellTheRooms = me -> { // as the chat example's: tell each room who left
            for (String room : registry.groupsOf(me)) {
                registry.sendToGroup(room, line(registry.userOf(me) + " left " + room));
            }
        };
        TestConnection.Builder member = TestConnection.builder(chat(registry)).registry(registry)
                .onConnectionExit(tellTheRooms)
                .onConnectionExit(me -> exits.add(me.connection().closeReason() + " " + registry.userOf(me)));
        try (TestConnection alice = member.start(); TestConnection bob = member.start()) {
            alice.feed("/nick alice\n/join lobby\n");
            bob.feed("/nick bob\n/join lobby\n");
            assertThat(alice.readText(6)).isEqualTo("ok\nok\n");
            assertThat(bob.readText(6)).isEqualTo("ok\nok\n");
            bob.resetInput();
            assertThat(bob.awaitClose()).isEqualTo(CloseReason.PEER_RESET);
            assertThat(exits).as("the exit hooks ran, in order, before awaitClose returned").containsExactly("PEER_RESET bob");
            assertThat(alice.readText(15)).isEqualTo("bob left lobby\n");
            assertThat(registry.user("bob")).as("removed after the exit hooks").isEmpty();
        }
        assertThat(exits).as("close() waited for the other's").containsExactly("PEER_RESET bob", "CLOSED alice");
    }

    @Test
    void closeSaysWhichHookOrFactoryKeepsTheConnectionFromEnding() throws Exception {
        java.util.concurrent.CompletableFuture<Void> release = new java.util.concurrent.CompletableFuture<>();
        java.util.concurrent.Semaphore inside = new java.util.concurrent.Semaphore(0);
        ConnectionHook block = s -> { // join() ignores the interrupt of the exit: the hook does not return
            inside.release();
            release.join();
        };
        TestConnection blockedExit = TestConnection.builder(ECHO).onConnectionExit(block).start();
        TestConnection blockedStart = TestConnection.builder(ECHO).onConnectionStart(block).start();
        TestConnection blockedFactory = TestConnection.builder(ECHO).senderFactory(c -> {
            block.onEvent(null);
            return SenderFactory.queue(8).create(c);
        }).start();
        try {
            blockedExit.endInput(); // it ends, and its exit hook blocks
            for (TestConnection t : java.util.List.of(blockedExit, blockedStart, blockedFactory)) {
                t.timeout(Duration.ofMillis(200));
            }
            assertThat(inside.tryAcquire(3, 10, java.util.concurrent.TimeUnit.SECONDS)).as("all three blocked").isTrue();
            assertThatThrownBy(blockedExit::close).isInstanceOf(AssertionError.class)
                    .hasMessage("the connection did not end within 200ms of close(): an exit hook has not returned");
            assertThatThrownBy(blockedStart::close).isInstanceOf(AssertionError.class)
                    .hasMessage("the connection did not end within 200ms of close(): a start hook has not returned");
            assertThatThrownBy(blockedFactory::close).isInstanceOf(AssertionError.class)
                    .hasMessage("the connection did not end within 200ms of close(): the sender factory has not returned");
        } finally {
            release.complete(null); // they all end: no thread is left behind
            for (TestConnection t : java.util.List.of(blockedExit, blockedStart, blockedFactory)) {
                t.timeout(Duration.ofSeconds(10)).close();
            }
        }
    }

    @Test
    void aRegistryNotMadeByCreateIsRefused() {
        ConnectionRegistry foreign = (ConnectionRegistry) java.lang.reflect.Proxy.newProxyInstance(
                getClass().getClassLoader(), new Class<?>[] {ConnectionRegistry.class}, (proxy, m, args) -> null);
        assertThatThrownBy(() -> TestConnection.builder(ECHO).registry(foreign))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ConnectionRegistry.create()");
    }

    @Test
    void aPeerThatStopsReadingMakesTheWriteTimeOut() throws Exception {
        ConnectionReader reader = DelimiterReader.builder().lines()
                .build((sender, line) -> sender.put(DelimiterEncoder.lines().encode(line)));
        try (TestConnection peer = TestConnection.start(reader, SenderFactory.queue(8),
                s -> s.connection().writeTimeout(Duration.ofMillis(100)))) {
            peer.stallWrites(true).feed("a\n");
            assertThat(peer.awaitClose()).isEqualTo(CloseReason.WRITE_TIMEOUT);
            assertThat(peer.readAvailable()).isEmpty();
        }
    }

    @Test
    void aResetPeerEndsTheConnectionAndTheSenderIsThereForPushes() throws Exception {
        try (TestConnection peer = TestConnection.start(ECHO)) {
            peer.sender().put("pushed".getBytes(StandardCharsets.US_ASCII));
            assertThat(peer.readText(6)).isEqualTo("pushed");
            peer.resetInput();
            assertThat(peer.awaitClose()).isEqualTo(CloseReason.PEER_RESET);
        }
    }

    @Test
    void waitingForOutputThatNeverComesFailsTheTestInsteadOfHangingIt() throws Exception {
        try (TestConnection peer = TestConnection.start(ECHO).timeout(Duration.ofMillis(50))) {
            assertThatThrownBy(() -> peer.read(1)).isInstanceOf(AssertionError.class)
                    .hasMessageContaining("expected 1 bytes written");
        }
    }

    @Test
    void aReadCutShortByTheCloseSaysSoAtOnceEvenWhileTheExitHooksRun() throws Exception {
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        try (TestConnection peer = TestConnection.builder(ECHO)
                .onConnectionExit(s -> release.await(10, java.util.concurrent.TimeUnit.SECONDS)).start()) {
            try {
                peer.feed(ENCODER.encode(new byte[100])); // longer than 64: a protocol error
                long start = System.nanoTime();
                assertThatThrownBy(() -> peer.read(1)).isInstanceOf(AssertionError.class)
                        .hasMessage("expected 1 bytes written within 10s, got 0 before the connection closed (PROTOCOL_ERROR)");
                assertThat(Duration.ofNanos(System.nanoTime() - start)).as("no wait for the timeout").isLessThan(Duration.ofSeconds(5));
                assertThat(peer.isClosed()).as("the exit hook still runs").isFalse();
            } finally {
                release.countDown();
            }
        }
    }

    @Test
    void badArgumentsAreRefusedClearlyAndALongTimeoutIsNoError() throws Exception {
        try (TestConnection peer = TestConnection.start(ECHO)) {
            assertThatThrownBy(() -> peer.read(-1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("n: -1 (expected: >= 0)");
            assertThatThrownBy(() -> peer.timeout(Duration.ofMillis(-1))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("timeout: -1ms (expected: >= 0)");
            peer.timeout(Duration.ofSeconds(Long.MAX_VALUE)); // more nanoseconds than a long holds: waits as long as it can
            assertThat(peer.sender()).isNotNull();
            assertThat(peer.read(0)).isEmpty();
        }
    }

    @Test
    void manySmallRepliesAreReadInOrderWhateverTheSizesOfTheReads() throws Exception {
        int batches = 40;
        int perBatch = 500; // within the queue's 1,024: the reader never outruns the writer by more
        try (TestConnection peer = TestConnection.start(ECHO)) {
            int next = 0;
            for (int b = 0; b < batches; b++) {
                java.nio.ByteBuffer input = java.nio.ByteBuffer.allocate(perBatch * 8);
                for (int i = 0; i < perBatch; i++) {
                    input.putInt(4).putInt(b * perBatch + i);
                }
                peer.feed(input.array());
                // Reads that start and end anywhere in a reply: 3, 5 and 13 bytes, then the rest of the batch.
                java.nio.ByteBuffer replies = java.nio.ByteBuffer.allocate(perBatch * 8);
                int[] sizes = {3, 5, 13};
                for (int k = 0; replies.remaining() > 13; k++) {
                    replies.put(peer.read(sizes[k % sizes.length]));
                }
                replies.put(peer.read(replies.remaining()));
                replies.flip();
                for (int i = 0; i < perBatch; i++, next++) {
                    assertThat(replies.getInt()).isEqualTo(4);
                    assertThat(replies.getInt()).isEqualTo(next);
                }
            }
            assertThat(peer.readAvailable()).as("nothing more was written").isEmpty();
            peer.sender().put(new byte[] {1, 2});
            peer.sender().put(new byte[] {3});
            assertThat(peer.read(3)).containsExactly(1, 2, 3);
        }
    }

    @Test
    void closeFailsTheTestWhenTheReaderIgnoresTheExit() throws Exception {
        java.util.concurrent.CountDownLatch reading = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CompletableFuture<Void> release = new java.util.concurrent.CompletableFuture<>();
        ConnectionReader stubborn = (sender, conn) -> {
            try {
                reading.countDown();
                conn.readUnsignedByte();
            } catch (java.io.IOException e) {
                release.join(); // ignores the closed connection, and the interrupt (join is not interruptible)
                throw e;
            }
        };
        TestConnection peer = TestConnection.start(stubborn).timeout(Duration.ofMillis(200));
        try {
            assertThat(reading.await(10, java.util.concurrent.TimeUnit.SECONDS)).as("the reader runs").isTrue();
            assertThatThrownBy(peer::close).isInstanceOf(AssertionError.class)
                    .hasMessageContaining("did not end within").hasMessageContaining("its reader still runs");
        } finally {
            release.complete(null); // the reader ends: no thread is left behind
            assertThat(peer.timeout(Duration.ofSeconds(10)).awaitClose()).isEqualTo(CloseReason.CLOSED);
        }
    }
}
