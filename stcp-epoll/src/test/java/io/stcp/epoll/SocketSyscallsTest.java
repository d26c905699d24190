package io.stcp.epoll;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.stcp.testing.LogCapture;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The epoll module's own {@code recv} and {@code send} on real loopback sockets: what they return,
 * and how they word a failure (as the JDK does, so that stcp tells a reset from a protocol error).
 */
class SocketSyscallsTest {
    private final SocketSyscalls calls = SocketSyscalls.INSTANCE;

    @Test
    void thisJvmCanMakeTheCalls() {
        assertThat(SocketSyscalls.check()).isNull(); // whether the transport uses them: EpollTransportTest
    }

    @Test
    void callsThisJvmCannotMakeAreLeftToTheJdkWithALineThatSaysWhatWentWrongUnderError() {
        try (LogCapture log = LogCapture.of("io.stcp.epoll")) {
            assertThat(EpollReadinessSource.directCalls("test: critical calls with heap access fail")).isNull();
            // free text, so error (as every line writes a failure's text): reason is kept for categories
            assertThat(log.events("epoll.socket_calls.unavailable")).singleElement()
                    .satisfies(e -> assertThat(LogCapture.fields(e)).containsEntry("error", "test: critical calls with heap access fail")
                            .doesNotContainKey("reason"));
        }
        assertThat(EpollReadinessSource.directCalls(null)).isSameAs(SocketSyscalls.INSTANCE);
    }

    @Test
    void readsWhatArrivedNothingWhenEmptyAndMinusOneAtTheEnd() throws Exception {
        try (Pair pair = Pair.connect()) {
            SocketChannel peer = pair.peer;
            int fd = Fds.of(pair.socket);
            byte[] into = new byte[16];
            assertThat(calls.read(fd, into, 0, into.length)).isZero();

            peer.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
            int[] n = new int[1];
            await().until(() -> (n[0] = calls.read(fd, into, 5, 4)) != 0);
            assertThat(n[0]).isEqualTo(3);
            assertThat(Arrays.copyOfRange(into, 5, 8)).containsExactly(1, 2, 3);

            peer.shutdownOutput();
            await().until(() -> calls.read(fd, into, 0, into.length) == -1);
        }
    }

    @Test
    void writesFromTheMiddleOfAnArrayAndZeroWhenTheSocketIsFull() throws Exception {
        try (Pair pair = Pair.connect()) {
            SocketChannel peer = pair.peer;
            int fd = Fds.of(pair.socket);
            assertThat(calls.write(fd, new byte[] {9, 8, 7, 6}, 1, 2)).isEqualTo(2);
            ByteBuffer got = ByteBuffer.allocate(2);
            while (got.hasRemaining()) {
                peer.read(got);
            }
            assertThat(got.array()).containsExactly(8, 7);

            byte[] big = new byte[1 << 20];
            long written = 0;
            int n;
            while ((n = calls.write(fd, big, 0, big.length)) > 0) { // the peer reads nothing: the socket fills
                written += n;
            }
            assertThat(n).isZero();
            assertThat(written).isPositive();
        }
    }

    @Test
    void writesDirectBuffersWithOneGatheringCallFromEachPosition() throws Exception {
        try (Pair pair = Pair.connect()) {
            int fd = Fds.of(pair.socket);
            ByteBuffer a = pattern(10, 0).position(4);
            ByteBuffer empty = ByteBuffer.allocateDirect(0);
            ByteBuffer b = pattern(5, 100);
            ByteBuffer[] srcs = {ByteBuffer.allocateDirect(1), a, empty, b};

            assertThat(calls.writeDirect(fd, srcs, 1, 4, Integer.MAX_VALUE)).isEqualTo(11);

            assertThat(a.hasRemaining() || b.hasRemaining()).isFalse();
            assertThat(srcs[0].position()).as("outside the range").isZero();
            assertThat(readExactly(pair.peer, 11)).containsExactly(4, 5, 6, 7, 8, 9, 100, 101, 102, 103, 104);

            ByteBuffer one = pattern(3, 50);
            assertThat(calls.writeDirect(fd, new ByteBuffer[] {one}, 0, 1, 2)).as("one buffer, two bytes at most").isEqualTo(2);
            assertThat(one.position()).isEqualTo(2);
            assertThat(readExactly(pair.peer, 2)).containsExactly(50, 51);
        }
    }

    @Test
    void oneCallTakesAtMostItsVectorOfBuffersAndItsBytes() throws Exception {
        try (Pair pair = Pair.connect()) {
            int fd = Fds.of(pair.socket);
            ByteBuffer[] many = new ByteBuffer[CaptureSlots.VECTOR_LENGTH + 6];
            for (int i = 0; i < many.length; i++) {
                many[i] = pattern(2, 2 * i);
            }
            assertThat(calls.writeDirect(fd, many, 0, many.length, Integer.MAX_VALUE)).isEqualTo(2L * CaptureSlots.VECTOR_LENGTH);
            assertThat(many[CaptureSlots.VECTOR_LENGTH - 1].hasRemaining()).isFalse();
            assertThat(many[CaptureSlots.VECTOR_LENGTH].position()).as("beyond the vector").isZero();
            readExactly(pair.peer, 2 * CaptureSlots.VECTOR_LENGTH);

            ByteBuffer[] three = {pattern(10, 0), pattern(10, 10), pattern(10, 20)};
            assertThat(calls.writeDirect(fd, three, 0, 3, 25)).isEqualTo(25);
            assertThat(three[2].position()).as("the last taken in part").isEqualTo(5);
            byte[] got = readExactly(pair.peer, 25);
            for (int i = 0; i < 25; i++) {
                assertThat(got[i]).isEqualTo((byte) i);
            }
        }
    }

    @Test
    void aFullSocketTakesPartAndThePositionsSayExactlyWhich() throws Exception {
        try (Pair pair = Pair.connect()) {
            int fd = Fds.of(pair.socket);
            ByteBuffer[] srcs = {pattern(32 << 20, 0), pattern(1 << 20, 7)}; // far more than the two socket buffers hold
            long total = 0;
            long n;
            while ((n = calls.writeDirect(fd, srcs, 0, 2, 1 << 20)) > 0) { // the peer reads nothing yet
                assertThat(n).isLessThanOrEqualTo(1 << 20);
                total += n;
            }
            assertThat(n).as("full: nothing written, no wait").isZero();
            assertThat(srcs[0].position() + (long) srcs[1].position()).isEqualTo(total);
            assertThat(srcs[1].position()).as("the first buffer is not done").isZero();

            byte[] got = readExactly(pair.peer, (int) total);
            ByteBuffer expected = pattern(32 << 20, 0);
            for (int i = 0; i < total; i++) {
                if (got[i] != expected.get(i)) {
                    throw new AssertionError("byte " + i + " of " + total + ": " + got[i] + " != " + expected.get(i));
                }
            }
        }
    }

    @Test
    void heapBuffersAndAFullSetOfSlotsAreLeftToTheCaller() throws Exception {
        try (Pair pair = Pair.connect()) {
            int fd = Fds.of(pair.socket);
            ByteBuffer[] mixed = {pattern(4, 0), ByteBuffer.wrap(new byte[4])};
            assertThat(calls.writeDirect(fd, mixed, 0, 2, Integer.MAX_VALUE)).isEqualTo(-1);
            assertThat(mixed[0].position()).isZero();

            List<Integer> all = new ArrayList<>();
            for (int s; (s = Epoll.SLOTS.take()) >= 0; ) {
                all.add(s);
            }
            ByteBuffer[] two = {pattern(2, 0), pattern(2, 2)};
            try {
                assertThat(calls.writeDirect(fd, two, 0, 2, Integer.MAX_VALUE)).as("no vector free").isEqualTo(-1);
                assertThat(two[0].position()).isZero();
            } finally {
                all.forEach(Epoll.SLOTS::give);
            }
            assertThat(calls.writeDirect(fd, two, 0, 2, Integer.MAX_VALUE)).isEqualTo(4);
            assertThat(Epoll.SLOTS.takenCount()).isZero();
            assertThatThrownBy(() -> calls.writeDirect(-1, new ByteBuffer[] {pattern(1, 0), pattern(1, 1)}, 0, 2, 2))
                    .isInstanceOf(ClosedChannelException.class);
            assertThatThrownBy(() -> calls.writeDirect(-1, new ByteBuffer[] {pattern(1, 0)}, 0, 1, 1))
                    .isInstanceOf(ClosedChannelException.class);
            assertThat(Epoll.SLOTS.takenCount()).as("given back after a failure too").isZero();
        }
    }

    /** A direct buffer of {@code size} bytes counting up from {@code first}. */
    private static ByteBuffer pattern(int size, int first) {
        ByteBuffer b = ByteBuffer.allocateDirect(size);
        for (int i = 0; i < size; i++) {
            b.put(i, (byte) (first + i));
        }
        return b;
    }

    private static byte[] readExactly(SocketChannel from, int n) throws Exception {
        ByteBuffer got = ByteBuffer.allocate(n);
        while (got.hasRemaining()) {
            from.read(got);
        }
        return got.array();
    }

    @Test
    void aResetIsReportedAsTheJdkReportsIt() throws Exception {
        try (Pair pair = Pair.connect()) {
            SocketChannel peer = pair.peer;
            int fd = Fds.of(pair.socket);
            peer.setOption(StandardSocketOptions.SO_LINGER, 0);
            peer.close(); // a reset

            byte[] into = new byte[16];
            await().until(() -> {
                try {
                    calls.read(fd, into, 0, into.length);
                    return false;
                } catch (SocketException e) {
                    assertThat(e).hasMessage("Connection reset");
                    return true;
                }
            });
            assertThatThrownBy(() -> {
                for (int i = 0; i < 10; i++) {
                    calls.write(fd, into, 0, into.length);
                }
            }).isInstanceOf(SocketException.class).hasMessageMatching("Broken pipe|Connection reset");
        }
    }

    @Test
    void anyOtherErrorIsWordedAsTheSystemWordsItAndNamed() throws Exception {
        try (SocketChannel unconnected = SocketChannel.open()) {
            int fd = Fds.of(unconnected);
            assertThatThrownBy(() -> calls.read(fd, new byte[1], 0, 1)).isInstanceOf(java.io.IOException.class)
                    .isNotInstanceOf(SocketException.class) // no broken connection: a protocol error, not a reset
                    .hasMessage("recv failed: Transport endpoint is not connected (ENOTCONN), errno 107");
        }
        int eventFd = Epoll.eventFd(); // not a socket
        try {
            assertThatThrownBy(() -> calls.write(eventFd, new byte[1], 0, 1)).isInstanceOf(java.io.IOException.class)
                    .isNotInstanceOf(SocketException.class)
                    .hasMessage("send failed: Socket operation on non-socket (ENOTSOCK), errno 88");
        } finally {
            Epoll.close(eventFd);
        }
    }

    @Test
    void aRaisedLowWaterMarkHoldsReadinessBackUntilThatManyBytesArrived() throws Exception {
        try (Pair pair = Pair.connect(); Selector selector = Selector.open()) {
            int fd = Fds.of(pair.socket);
            pair.socket.register(selector, SelectionKey.OP_READ);
            calls.receiveLowWater(fd, 1000);
            pair.peer.write(ByteBuffer.allocate(10));
            assertThat(selector.selectNow()).as("10 of 1000 bytes").isZero();
            pair.peer.write(ByteBuffer.allocate(990));
            assertThat(selector.select(10_000)).as("all 1000").isEqualTo(1);
            assertThat(calls.read(fd, new byte[2000], 0, 2000)).isEqualTo(1000);

            calls.receiveLowWater(fd, 1);
            selector.selectedKeys().clear();
            pair.peer.write(ByteBuffer.allocate(1));
            assertThat(selector.select(10_000)).as("one byte, the mark back at 1").isEqualTo(1);
        }
    }

    @Test
    void aRangeOutsideTheArrayIsRefusedBeforeAnyCall() {
        assertThatThrownBy(() -> calls.read(-1, new byte[4], 0, 5)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> calls.write(-1, new byte[4], 2, 3)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThat(Epoll.SLOTS.takenCount()).isZero();
    }

    /**
     * A failure that says nothing of the peer or the network — here a read of a socket that was never
     * connected (ENOTCONN), as a bug of ours or the system's would fail — is a plain
     * {@link java.io.IOException}, not a {@link SocketException}: stcp takes every SocketException of
     * the transports for a broken connection (PEER_RESET, DEBUG), which would hide such a failure
     * (it ends as PROTOCOL_ERROR, WARN with its stack trace).
     */
    @Test
    void aBadDescriptorIsAClosedChannel() {
        assertThatThrownBy(() -> calls.read(-1, new byte[1], 0, 1)).isInstanceOf(ClosedChannelException.class);
        assertThatThrownBy(() -> calls.write(-1, new byte[1], 0, 1)).isInstanceOf(ClosedChannelException.class);
        assertThatThrownBy(() -> calls.receiveLowWater(-1, 1)).isInstanceOf(ClosedChannelException.class);
    }

    @Test
    void everyCallGivesItsErrnoSlotBackAndCallsStillWorkWhenNoSlotIsFree() throws Exception {
        try (Pair pair = Pair.connect()) {
            int fd = Fds.of(pair.socket);
            exercise(fd, pair.peer);
            assertThat(Epoll.SLOTS.takenCount()).as("slots still taken after the calls").isZero();

            List<Integer> all = new ArrayList<>();
            for (int s; (s = Epoll.SLOTS.take()) >= 0; ) {
                all.add(s);
            }
            try {
                exercise(fd, pair.peer); // each call captures into an array of its own
            } finally {
                all.forEach(Epoll.SLOTS::give);
            }
            assertThat(Epoll.SLOTS.takenCount()).isZero();
        }
    }

    /** A write, a read, a read that finds nothing, and a failure, each checked. */
    private void exercise(int fd, SocketChannel peer) throws Exception {
        assertThat(calls.write(fd, new byte[] {4, 5, 6}, 0, 3)).isEqualTo(3);
        ByteBuffer got = ByteBuffer.allocate(3);
        while (got.hasRemaining()) {
            peer.read(got);
        }
        assertThat(got.array()).containsExactly(4, 5, 6);
        peer.write(ByteBuffer.wrap(new byte[] {1, 2}));
        byte[] into = new byte[8];
        int[] n = new int[1];
        await().until(() -> (n[0] = calls.read(fd, into, 0, into.length)) != 0);
        assertThat(n[0]).isEqualTo(2);
        assertThat(calls.read(fd, into, 2, 6)).as("nothing more: EAGAIN").isZero();
        assertThatThrownBy(() -> calls.read(-1, into, 0, 1)).isInstanceOf(ClosedChannelException.class);
    }

    /** A connected loopback pair: the peer (blocking) and the socket under test (non-blocking). */
    private record Pair(ServerSocketChannel listener, SocketChannel peer, SocketChannel socket) implements AutoCloseable {
        static Pair connect() throws Exception {
            ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
            SocketChannel peer = SocketChannel.open(listener.getLocalAddress());
            SocketChannel socket = listener.accept();
            socket.configureBlocking(false);
            return new Pair(listener, peer, socket);
        }

        @Override
        public void close() throws Exception {
            socket.close();
            peer.close();
            listener.close();
        }
    }
}
