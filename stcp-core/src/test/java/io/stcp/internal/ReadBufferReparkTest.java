package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.QueueSender;
import io.stcp.testing.Echo;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.net.Socket;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A reader that answers pipelined requests out of a read buffer it parked while a put waited for
 * room (see ConnectionInput, "A wait for room") does not copy its bytes left again at every later
 * wait: with 12-byte echoes through a queue of one message, nearly every put waits, and the old
 * code copied what was left of the parked array at each (5 GB copied for 3.2 MB read, on epoll).
 * Each copy is seen from the reader's own thread as a new array under it. The JDK transport parks
 * nothing. Every frame still comes back whole.
 */
class ReadBufferReparkTest {
    private static final int BODY = 12;
    private static final int FRAMES = 100_000;

    private final WideBuffersTaken wide = new WideBuffersTaken();
    private final FramingPeers peers = new FramingPeers();
    private RealTcpServer server;

    @AfterEach
    void tearDown() throws Exception {
        wide.close();
        peers.close();
        if (server != null) {
            Echo.stop(server);
        }
    }

    @Test
    void aParkedBufferIsNotCopiedAgainAtEveryWait() throws Exception {
        AtomicLong copied = new AtomicLong(); // bytes of the arrays parked under the reader's puts
        server = new RealTcpServer(Echo.loopback().build(), (sender, conn) -> {
            int n = conn.readInt();
            byte[] value = conn.readBytes(n);
            ConnectionInput input = ((RealConnection) conn).input();
            int before = input.bufferCapacity();
            sender.put(value);
            int after = input.bufferCapacity();
            if (after != before && !pooledSize(after)) {
                copied.addAndGet(after);
            }
        }, QueueSender.options().capacity(1)::build);
        server.start();

        Socket peer = peers.start(server.address().getPort(), BODY, FRAMES);
        peer.setSoTimeout(30_000);
        DataInputStream in = new DataInputStream(new BufferedInputStream(peer.getInputStream()));
        byte[] body = new byte[BODY];
        for (int i = 0; i < FRAMES; i++) {
            in.readFully(body);
            assertThat(body).as("frame %s echoed", i).containsOnly((byte) i);
        }
        long read = (long) FRAMES * (BODY + 4);
        // Each fill's bytes copied at most twice (a park, then re-parks that each halve the array).
        assertThat(copied.get()).as("bytes copied parking the read buffer for %s bytes read (the old code:"
                + " over 1,000 times as many)", read).isLessThanOrEqualTo(2 * read + 2L * ReadBuffers.LARGE);
    }

    /** Whether a buffer of {@code capacity} bytes is none or one of the pool's: not an array parked. */
    private static boolean pooledSize(int capacity) {
        return capacity == 0 || capacity == ReadBuffers.SIZE || capacity == ReadBuffers.LARGE || capacity == ReadBuffers.WIDE;
    }
}
