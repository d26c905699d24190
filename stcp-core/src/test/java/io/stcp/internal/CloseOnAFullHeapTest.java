package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.CloseReason;
import io.stcp.SenderFactory;
import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A connection's close allocates nothing before it closes the socket. Under an attack that fills
 * the heap (peers that never read, each with megabytes of replies queued) an allocation on the way
 * to the close throws {@link OutOfMemoryError} first: the close of a connection once threw it from
 * the method reference it made to pass the transport's close along (seen in the echo example at
 * -Xmx512m, {@code ConnectionClose.close} under {@code DirectMethodHandle.allocateInstance}), after
 * the connection was marked closed, so no later close tried again: the socket stayed open with no
 * one to read or close it, and its peer was never told. The epoll transport's close of its own
 * descriptor had the same shape. Measured here with the thread's allocation counter, after a few
 * closes have linked every call on the way; {@link OutOfMemoryError} itself cannot be thrown at a
 * chosen allocation.
 */
class CloseOnAFullHeapTest {
    private static final MethodHandle ALLOCATED = allocatedBytes();
    private static final int WARM_UP = 3;

    /**
     * {@code ThreadMXBean.getCurrentThreadAllocatedBytes()}, through a handle: this module does not
     * read java.management, and a reflective call would allocate (its arguments, its boxed result).
     */
    private static MethodHandle allocatedBytes() {
        try {
            Object threads = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean")
                    .invoke(null);
            return MethodHandles.publicLookup().findVirtual(Class.forName("com.sun.management.ThreadMXBean"),
                    "getCurrentThreadAllocatedBytes", MethodType.methodType(long.class)).bindTo(threads);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    /** What this thread has allocated so far, in bytes. */
    private static long allocated() {
        try {
            return (long) ALLOCATED.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** What two reads of {@link #allocated()} in a row differ by: the measure's own cost, if any. */
    private static long overhead() {
        long a = allocated();
        return allocated() - a;
    }

    /** A layer whose close notes what the closing thread had allocated when the close came to it. */
    private static final class AllocationAtClose extends OverTransport {
        final BlockingQueue<Long> allocated;

        AllocationAtClose(Transport under, BlockingQueue<Long> allocated) {
            super(under);
            this.allocated = allocated;
        }

        @Override
        public void close() {
            long at = allocated(); // first: the offer below may allocate
            allocated.offer(at);
            under.close();
        }
    }

    @Test
    void aConnectionsCloseAllocatesNothingBeforeItClosesItsTransport() throws Exception {
        BlockingQueue<Long> atClose = new ArrayBlockingQueue<>(64);
        BlockingQueue<RealConnection> started = new ArrayBlockingQueue<>(8);
        RealTcpServer server = new RealTcpServer(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8))
                .layUnder((under, connection, deadlineNanos) -> new AllocationAtClose(under, atClose));
        server.onConnectionStart(sender -> started.add((RealConnection) sender.connection())).start();
        try {
            for (int i = 0; i <= WARM_UP; i++) { // the last one is measured, its calls linked by the others
                try (TestClient client = TestClient.connect(server.address())) {
                    RealConnection connection = started.poll(10, TimeUnit.SECONDS);
                    assertThat(connection).as("connection %d started", i).isNotNull();
                    atClose.clear();

                    long before = allocated();
                    connection.close(CloseReason.CLOSED);
                    Long at = atClose.poll(); // this thread's close came first: the connection's own finds it closed

                    assertThat(at).as("the transport's close, on this thread").isNotNull();
                    if (i == WARM_UP) {
                        assertThat(at - before - overhead()).as("bytes allocated on the way to the transport's close")
                                .isZero();
                    }
                    assertThat(client.awaitClosedByServer()).isTrue();
                }
            }
        } finally {
            server.close();
            assertThat(server.awaitTermination(Duration.ofSeconds(10))).isTrue();
        }
    }

    @Test
    void aReadinessTransportsCloseAllocatesNothingBetweenForgettingTheRegistrationTheSocketAndTheDescriptor()
            throws IOException {
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            for (int i = 0; i <= WARM_UP; i++) {
                try (SocketChannel peer = SocketChannel.open(listener.getLocalAddress());
                        SocketChannel accepted = listener.accept()) {
                    accepted.configureBlocking(false);
                    long[] marks = new long[3];
                    Readiness readiness = new Readiness(new Readiness.Owner() {
                        @Override
                        public void deregister(Readiness r) {
                            marks[0] = allocated();
                        }

                        @Override
                        public void closeDescriptor(Readiness r) {
                            marks[2] = allocated();
                        }
                    }, 0);
                    SocketChannel noting = new ForwardingSocketChannel(accepted) {
                        @Override
                        protected void implCloseSelectableChannel() throws IOException {
                            marks[1] = allocated();
                            channel.close();
                        }

                        @Override
                        protected void implConfigureBlocking(boolean block) throws IOException {
                            channel.configureBlocking(block);
                        }
                    };
                    ReadinessTransport transport = new ReadinessTransport(noting, readiness, "test", null, -1);

                    transport.close();

                    assertThat(accepted.isOpen()).isFalse();
                    assertThat(marks[0]).as("the registration was forgotten").isPositive();
                    assertThat(marks[2]).as("the descriptor's close came").isPositive();
                    if (i == WARM_UP) {
                        assertThat(marks[1] - marks[0] - overhead()).as("bytes allocated between forgetting the"
                                + " registration and the socket's close").isZero();
                        assertThat(marks[2] - marks[1] - overhead()).as("bytes allocated between the socket's close"
                                + " and the descriptor's").isZero();
                    }
                }
            }
        }
    }
}
