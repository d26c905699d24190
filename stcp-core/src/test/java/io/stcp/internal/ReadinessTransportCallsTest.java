package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.stcp.ReadTimeoutException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A {@link ReadinessTransport} making its own {@link SocketCalls} on the descriptor never closes the
 * channel under a call in progress (the number could be reused by another socket meanwhile),
 * forgets the registration before the channel's number is free, and
 * sends a single heap buffer (or several that continue one another in one array) by such a call,
 * the caller's own direct buffers by its gathering call, and any others by the channel's
 * gathering write. The calls here go through the channel,
 * held up by a latch where a test needs a call in progress; {@code stcp-epoll} tests the real ones.
 */
class ReadinessTransportCallsTest {
    private ServerSocketChannel listener;
    private SocketChannel peer;
    private SocketChannel channel;
    /** Whether the channel was open at each deregistration of the transport's Readiness. */
    private final List<Boolean> openAtDeregister = new java.util.concurrent.CopyOnWriteArrayList<>();

    @BeforeEach
    void connect() throws IOException {
        listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        peer = SocketChannel.open(listener.getLocalAddress());
        channel = listener.accept();
        channel.configureBlocking(false);
    }

    @AfterEach
    void closeAll() throws IOException {
        channel.close();
        peer.close();
        listener.close();
    }

    @Test
    void aCloseDuringAReadLeavesTheChannelOpenUntilTheReadReturns() throws Exception {
        HeldCalls calls = new HeldCalls(channel);
        ReadinessTransport transport = transport(calls);
        peer.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
        Future<Integer> read = onItsOwnThread(() -> transport.read(new byte[8], 0, 8, 0));
        assertThat(calls.inCall.await(10, TimeUnit.SECONDS)).isTrue();

        transport.close();

        assertThat(transport.isOpen()).isFalse();
        assertThat(channel.isOpen()).as("closed under the call in progress").isTrue();
        assertThat(openAtDeregister).as("forgotten at once, the channel still open").containsExactly(true);
        calls.release.countDown();
        assertThat(read.get(10, TimeUnit.SECONDS)).isEqualTo(3); // the call went on with its socket
        assertThat(channel.isOpen()).as("closed by the call's end").isFalse();
        transport.close();
        assertThat(openAtDeregister).as("once").containsExactly(true);
        assertThatThrownBy(() -> transport.read(new byte[8], 0, 8, 0)).isInstanceOf(ClosedChannelException.class);
    }

    /**
     * With no call under way the channel closes at once, its registration forgotten first: once
     * its number is free, the kernel may give it to a new socket, registered in the same slot.
     */
    @Test
    void aCloseForgetsTheRegistrationBeforeTheChannelClosesItsNumber() {
        ReadinessTransport transport = transport(new HeldCalls(channel));

        transport.close();

        assertThat(channel.isOpen()).isFalse();
        assertThat(openAtDeregister).as("the channel open when the registration was forgotten, once")
                .containsExactly(true);
    }

    @Test
    void withAReadAndAWriteInProgressTheLastToEndClosesTheChannel() throws Exception {
        HeldCalls calls = new HeldCalls(channel);
        ReadinessTransport transport = transport(calls);
        peer.write(ByteBuffer.wrap(new byte[] {1}));
        Future<Integer> read = onItsOwnThread(() -> transport.read(new byte[8], 0, 8, 0));
        assertThat(calls.inCall.await(10, TimeUnit.SECONDS)).isTrue();
        calls.writeHeld = true;
        Future<Integer> write = onItsOwnThread(() -> {
            transport.write(new ByteBuffer[] {ByteBuffer.wrap(new byte[] {9})}, 0, 1, 0);
            return 1;
        });
        assertThat(calls.inWrite.await(10, TimeUnit.SECONDS)).isTrue();

        transport.close();
        calls.release.countDown(); // the read ends first
        read.get(10, TimeUnit.SECONDS);

        assertThat(channel.isOpen()).as("a write is still in progress").isTrue();
        calls.releaseWrite.countDown();
        write.get(10, TimeUnit.SECONDS);
        assertThat(channel.isOpen()).isFalse();
    }

    @Test
    void aCloseWithNoCallInProgressClosesTheChannelAtOnce() {
        ReadinessTransport transport = transport(new HeldCalls(channel));

        transport.close();
        transport.close();

        assertThat(channel.isOpen()).isFalse();
        assertThatThrownBy(transport::shutdownOutput).isInstanceOf(ClosedChannelException.class);
        assertThat(transport.available()).isZero();
    }

    @Test
    void oneHeapBufferGoesByTheCallAndSeveralByTheGatheringWrite() throws Exception {
        WriteOnly calls = new WriteOnly(channel);
        ReadinessTransport transport = transport(calls);

        transport.write(new ByteBuffer[] {ByteBuffer.allocate(0), ByteBuffer.wrap(new byte[] {1, 2}),
                ByteBuffer.allocate(0)}, 0, 3, 0);
        transport.write(new ByteBuffer[] {ByteBuffer.wrap(new byte[] {3}), ByteBuffer.wrap(new byte[] {4, 5})}, 0, 2, 0);
        transport.write(new ByteBuffer[] {ByteBuffer.allocateDirect(1).put((byte) 6).flip()}, 0, 1, 0);

        assertThat(calls.writes).containsExactly(2); // the first only; the others by the channel
        ByteBuffer got = ByteBuffer.allocate(6);
        while (got.hasRemaining()) {
            peer.read(got);
        }
        assertThat(got.array()).containsExactly(1, 2, 3, 4, 5, 6);
        transport.close();
    }

    @Test
    void ownedDirectBuffersGoByTheGatheringCallAndAnyOthersByTheChannel() throws Exception {
        WriteOnly calls = new WriteOnly(channel);
        ReadinessTransport transport = transport(calls);

        transport.writeOwned(new ByteBuffer[] {direct(1, 2), ByteBuffer.allocateDirect(0), direct(3)}, 0, 3, 0);
        transport.write(new ByteBuffer[] {direct(4), direct(5)}, 0, 2, 0); // not the caller's own: the channel
        transport.writeOwned(new ByteBuffer[] {ByteBuffer.wrap(new byte[] {6}), direct(7)}, 0, 2, 0); // a heap one among them
        transport.writeOwned(new ByteBuffer[] {direct(8)}, 0, 1, 0);
        transport.writeOwned(new ByteBuffer[] {ByteBuffer.wrap(new byte[] {9})}, 0, 1, 0); // one heap buffer: the call

        assertThat(calls.gathered).containsExactly(3, 1); // buffers per gathering call
        assertThat(calls.writes).containsExactly(1);
        ByteBuffer got = ByteBuffer.allocate(9);
        while (got.hasRemaining()) {
            peer.read(got);
        }
        assertThat(got.array()).containsExactly(1, 2, 3, 4, 5, 6, 7, 8, 9);
        transport.close();
    }

    @Test
    void heapBuffersThatContinueOneAnotherInOneArrayGoByOneCall() throws Exception {
        WriteOnly calls = new WriteOnly(channel);
        ReadinessTransport transport = transport(calls);
        byte[] array = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

        // replies lent from one read buffer, back to back (an empty one between them changes nothing)
        transport.writeOwned(new ByteBuffer[] {ByteBuffer.wrap(array, 1, 2), ByteBuffer.allocate(0),
                ByteBuffer.wrap(array, 3, 3)}, 0, 3, 0);
        // a slice whose array offset is not 0 continues where the one before ends in the array
        transport.write(new ByteBuffer[] {ByteBuffer.wrap(array, 6, 1), ByteBuffer.wrap(array, 7, 2).slice()}, 0, 2, 0);
        // a gap, another array, or the order reversed: the channel's gathering write
        transport.write(new ByteBuffer[] {ByteBuffer.wrap(array, 0, 1), ByteBuffer.wrap(array, 2, 1)}, 0, 2, 0);
        transport.write(new ByteBuffer[] {ByteBuffer.wrap(array, 0, 1), ByteBuffer.wrap(array.clone(), 1, 1)}, 0, 2, 0);
        transport.write(new ByteBuffer[] {ByteBuffer.wrap(array, 5, 1), ByteBuffer.wrap(array, 4, 1)}, 0, 2, 0);

        assertThat(calls.writes).containsExactly(5, 3);
        ByteBuffer got = ByteBuffer.allocate(14);
        while (got.hasRemaining()) {
            peer.read(got);
        }
        assertThat(got.array()).containsExactly(1, 2, 3, 4, 5, 6, 7, 8, 0, 2, 0, 1, 5, 4);
        transport.close();
    }

    @Test
    void aPartialWriteOfContiguousBuffersMovesEachPastWhatWasWritten() throws Exception {
        WriteOnly calls = new WriteOnly(channel) {
            @Override
            public int write(int fd, byte[] b, int off, int len) throws IOException {
                writes.add(len);
                return channel.write(ByteBuffer.wrap(b, off, Math.min(len, 3))); // a socket that takes 3 bytes a call
            }
        };
        ReadinessTransport transport = transport(calls);
        byte[] array = {1, 2, 3, 4, 5, 6, 7};
        ByteBuffer[] replies = {ByteBuffer.wrap(array, 0, 2), ByteBuffer.wrap(array, 2, 4), ByteBuffer.wrap(array, 6, 1)};

        transport.writeOwned(replies, 0, 3, 0);

        assertThat(calls.writes).containsExactly(7, 4, 1); // from the first buffer with bytes left each time
        for (ByteBuffer b : replies) {
            assertThat(b.hasRemaining()).isFalse();
        }
        ByteBuffer got = ByteBuffer.allocate(7);
        while (got.hasRemaining()) {
            peer.read(got);
        }
        assertThat(got.array()).containsExactly(1, 2, 3, 4, 5, 6, 7);
        transport.close();
    }

    private static ByteBuffer direct(int... bytes) {
        ByteBuffer b = ByteBuffer.allocateDirect(bytes.length);
        for (int v : bytes) {
            b.put((byte) v);
        }
        return b.flip();
    }

    @Test
    void writeNowWritesWhatTheSocketTakesByTheCallAndNeverWaits() throws Exception {
        WriteOnly calls = new WriteOnly(channel);
        ReadinessTransport transport = transport(calls);
        byte[] source = new byte[64 << 20]; // far more than the two socket buffers hold
        for (int i = 0; i < source.length; i++) {
            source[i] = (byte) (i ^ (i >>> 9));
        }

        long total = 0;
        int n;
        int rounds = 0;
        while ((n = transport.writeNow(source, 1 + (int) total, source.length - 1 - (int) total)) > 0) {
            total += n;
            assertThat(++rounds).as("the socket never fills").isLessThan(200);
        }

        assertThat(n).as("a full socket: nothing written, no wait").isZero();
        assertThat(total).isPositive().isLessThan(source.length - 1);
        assertThat(calls.writes).allSatisfy(len -> assertThat(len).isLessThanOrEqualTo(ReadinessTransport.MAX_BYTES_PER_CALL));
        assertThat(transport.writeNow(source, 0, 0)).isZero();
        ByteBuffer got = ByteBuffer.allocate((int) total);
        while (got.hasRemaining()) {
            peer.read(got);
        }
        assertThat(got.array()).isEqualTo(java.util.Arrays.copyOfRange(source, 1, 1 + (int) total));
        assertThat(new ReadinessTransport(channel, new Readiness(r -> {}, 0), "test", null, -1)
                .writeNow(source, 0, 1)).as("through the channel: no such write").isEqualTo(-1);
        transport.close();
        assertThatThrownBy(() -> transport.writeNow(source, 0, 1)).isInstanceOf(ClosedChannelException.class);
    }

    @Test
    void aCallMovesAtMostItsCapSoThatItHoldsOffSafepointsBriefly() throws Exception {
        WriteOnly calls = new WriteOnly(channel);
        Readiness readiness = new Readiness(r -> {}, 0);
        calls.pollsFor = readiness; // the peer drains on its own thread: a full socket is no failure here
        channel.setOption(java.net.StandardSocketOptions.SO_SNDBUF, 64 * 1024); // full long before 3 MiB, on any machine
        peer.setOption(java.net.StandardSocketOptions.SO_RCVBUF, 64 * 1024);
        ReadinessTransport transport = new ReadinessTransport(channel, readiness, "test", calls, -1);
        int size = 3 * ReadinessTransport.MAX_BYTES_PER_CALL + 1;
        Future<Integer> drain = onItsOwnThread(() -> {
            ByteBuffer sink = ByteBuffer.allocate(size);
            while (sink.hasRemaining()) {
                peer.read(sink);
            }
            return sink.position();
        });

        transport.write(new ByteBuffer[] {ByteBuffer.wrap(new byte[size])}, 0, 1, System.nanoTime() + 10_000_000_000L);

        assertThat(drain.get(10, TimeUnit.SECONDS)).isEqualTo(size);
        assertThat(calls.writes).allSatisfy(n -> assertThat(n).isLessThanOrEqualTo(ReadinessTransport.MAX_BYTES_PER_CALL));
        peer.write(ByteBuffer.wrap(new byte[] {1}));
        assertThat(transport.read(new byte[size], 0, size, 0)).isEqualTo(1);
        assertThat(calls.reads).containsExactly(ReadinessTransport.MAX_BYTES_PER_CALL); // what the call was asked for
        transport.close();
    }

    @Test
    void awaitingInputRaisesTheLowWaterMarkForTheWaitOnlyAndNotAtAllWhenTheBytesAreThere() throws Exception {
        WriteOnly calls = new WriteOnly(channel);
        Readiness readiness = new Readiness(r -> {}, 0);
        ReadinessTransport transport = new ReadinessTransport(channel, readiness, "test", calls, -1);
        peer.write(ByteBuffer.allocate(1000));
        await().atMost(Duration.ofSeconds(10)).until(() -> transport.available() == 1000);

        transport.awaitInput(1000, 0);
        assertThat(calls.lowWaters).as("all there already").isEmpty();

        Future<Integer> wait = onItsOwnThread(() -> {
            transport.awaitInput(3 * ReadinessTransport.MAX_BYTES_PER_CALL, 0);
            return 0;
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> !calls.lowWaters.isEmpty());
        assertThat(wait.isDone()).isFalse();
        readiness.signal(true, false, false, false); // what the kernel does once the mark is reached
        wait.get(10, TimeUnit.SECONDS);
        assertThat(calls.lowWaters).containsExactly(ReadinessTransport.MAX_BYTES_PER_CALL, 1);

        long deadline = System.nanoTime() + 50_000_000L;
        assertThatThrownBy(() -> transport.awaitInput(5000, deadline)).isInstanceOf(ReadTimeoutException.class);
        assertThat(calls.lowWaters).as("set back after a timeout too")
                .containsExactly(ReadinessTransport.MAX_BYTES_PER_CALL, 1, 5000, 1);
        assertThat(transport.read(new byte[2000], 0, 2000, 0)).isEqualTo(1000); // the bytes still there
        transport.close();
    }

    @Test
    void aScatteringReadGivenMoreBuffersThanOneCallTakesDoesNotTakeTheSocketForDrained() throws Exception {
        ReadinessTransport transport = transport(new WriteOnly(channel));
        int count = Transport.MAX_BUFFERS_PER_CALL + 10;
        peer.write(ByteBuffer.allocate(count));
        await().atMost(Duration.ofSeconds(10)).until(() -> transport.available() == count);
        ByteBuffer[] dsts = new ByteBuffer[count];
        for (int i = 0; i < count; i++) {
            dsts[i] = ByteBuffer.allocateDirect(1);
        }

        assertThat(transport.readNow(dsts, 0, count)).isEqualTo(Transport.MAX_BUFFERS_PER_CALL);

        assertThat(transport.isReadable()).as("bytes are left, and no edge will come for them").isTrue();
        assertThat(transport.readNow(dsts, Transport.MAX_BUFFERS_PER_CALL, 10)).isEqualTo(10);
        transport.close();
    }

    private static <T> Future<T> onItsOwnThread(Callable<T> task) {
        FutureTask<T> future = new FutureTask<>(task);
        Thread.ofPlatform().daemon().start(future);
        return future;
    }

    private ReadinessTransport transport(SocketCalls calls) {
        Readiness.Owner owner = readiness -> openAtDeregister.add(channel.isOpen());
        return new ReadinessTransport(channel, new Readiness(owner, 0), "test", calls, -1);
    }

    /** Calls through the channel (the descriptor is ignored), recording the lengths asked for. */
    private static class WriteOnly implements SocketCalls {
        final SocketChannel channel;
        final List<Integer> writes = new ArrayList<>();
        final List<Integer> reads = new ArrayList<>();
        final List<Integer> lowWaters = new java.util.concurrent.CopyOnWriteArrayList<>();
        final List<Integer> gathered = new ArrayList<>();
        /**
         * With no poller here, a write that took nothing (the socket full) would wait for an edge
         * that never comes: when set, such a write signals this Readiness writable at once, and
         * the transport tries again, as a poller would have it do once the peer has read.
         */
        volatile Readiness pollsFor;

        WriteOnly(SocketChannel channel) {
            this.channel = channel;
        }

        @Override
        public int fd(Readiness r) {
            return -1;
        }

        @Override
        public int read(int fd, byte[] b, int off, int len) throws IOException {
            reads.add(len);
            return channel.read(ByteBuffer.wrap(b, off, len));
        }

        @Override
        public int write(int fd, byte[] b, int off, int len) throws IOException {
            writes.add(len);
            int n = channel.write(ByteBuffer.wrap(b, off, len));
            Readiness r = pollsFor;
            if (n == 0 && r != null) {
                r.signal(false, true, false, false);
            }
            return n;
        }

        /** As the real call: direct buffers only, else -1 and nothing written. */
        @Override
        public long writeDirect(int fd, ByteBuffer[] srcs, int off, int end, int maxBytes) throws IOException {
            for (int i = off; i < end; i++) {
                if (!srcs[i].isDirect()) {
                    return -1;
                }
            }
            gathered.add(end - off);
            return channel.write(srcs, off, end - off);
        }

        @Override
        public void receiveLowWater(int fd, int bytes) {
            lowWaters.add(bytes);
        }
    }

    /** Calls held in progress until released. */
    private static final class HeldCalls extends WriteOnly {
        final CountDownLatch inCall = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final CountDownLatch inWrite = new CountDownLatch(1);
        final CountDownLatch releaseWrite = new CountDownLatch(1);
        volatile boolean writeHeld;

        HeldCalls(SocketChannel channel) {
            super(channel);
        }

        @Override
        public int read(int fd, byte[] b, int off, int len) throws IOException {
            inCall.countDown();
            await(release);
            return super.read(fd, b, off, len);
        }

        @Override
        public int write(int fd, byte[] b, int off, int len) throws IOException {
            if (writeHeld) {
                inWrite.countDown();
                await(releaseWrite);
            }
            return super.write(fd, b, off, len);
        }

        private static void await(CountDownLatch latch) {
            try {
                if (!latch.await(10, TimeUnit.SECONDS)) {
                    throw new AssertionError("never released");
                }
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }
}
