package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The JDK transport's sweeper watch of a blocked write's deadline ticks at the pace the writes
 * need: one near deadline (a handshake's last moments) makes a fast watch, which a later write with
 * a far deadline replaces and which leaves by itself once no write is under way; a write without a
 * deadline lets any watch go. So the server's sweeper does not go on scanning every millisecond
 * for the connection's lifetime. Over a real loopback socket.
 */
class WriteWatchTest {
    private static final long NEAR_NANOS = TimeUnit.MILLISECONDS.toNanos(100); // a 25 ms tick
    private static final long FAR_NANOS = TimeUnit.SECONDS.toNanos(60);        // the longest tick, 100 ms

    private final Sweeper sweeper = new Sweeper("test-write-sweeper");
    private final AtomicInteger timedOut = new AtomicInteger();
    private ServerSocketChannel listener;
    private SocketChannel peer;
    private BlockingTransport transport;

    @BeforeEach
    void connect() throws Exception {
        listener = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        SocketChannel channel = SocketChannel.open(listener.getLocalAddress());
        peer = listener.accept();
        transport = new BlockingTransport(channel, sweeper, timedOut::incrementAndGet);
    }

    @AfterEach
    void close() throws Exception {
        transport.close();
        peer.close();
        listener.close();
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> sweeper.size() == 0); // leaves with the channel
        assertThat(timedOut).as("no write was blocked past its deadline").hasValue(0);
    }

    @Test
    void aWriteWithAFarDeadlineReplacesTheFastWatchOfANearOne() throws Exception {
        write(System.nanoTime() + NEAR_NANOS); // a watch ticking every 25 ms (gone already, if no write follows soon)

        write(System.nanoTime() + FAR_NANOS);
        Awaitility.await().atMost(Duration.ofSeconds(10))
                .until(() -> sweeper.size() == 1 && sweeper.tickNanos() == TimeUnit.MILLISECONDS.toNanos(100));

        write(System.nanoTime() + FAR_NANOS); // alike: the watch stays
        assertThat(sweeper.size()).isEqualTo(1);
    }

    @Test
    void aWriteWithoutADeadlineLetsTheWatchGo() throws Exception {
        write(System.nanoTime() + FAR_NANOS); // a watch at the longest tick, which stays while writes have deadlines
        assertThat(sweeper.size()).isEqualTo(1);

        write(0);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> sweeper.size() == 0); // at its next sweep
        assertThat(transport.isOpen()).isTrue();
    }

    /** A connection that goes quiet after a write near its deadline: the fast watch leaves all the same. */
    @Test
    void theFastWatchOfANearWriteLeavesWhenNoWriteFollows() throws Exception {
        write(System.nanoTime() + NEAR_NANOS);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> sweeper.size() == 0); // at a sweep without a write
        write(System.nanoTime() + FAR_NANOS); // the next write is watched again, at the longest tick
        assertThat(sweeper.size()).isEqualTo(1);
        assertThat(sweeper.tickNanos()).isLessThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(100));
        assertThat(transport.isOpen()).isTrue();
    }

    private void write(long deadlineNanos) throws Exception {
        transport.write(new ByteBuffer[] {ByteBuffer.wrap(new byte[] {1})}, 0, 1, deadlineNanos);
        ByteBuffer one = ByteBuffer.allocate(1);
        while (one.hasRemaining()) {
            peer.read(one);
        }
    }
}
