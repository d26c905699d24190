package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stcp.internal.ConnectionOpener;
import io.stcp.internal.DirectChunks;
import io.stcp.internal.ForwardingTransport;
import io.stcp.internal.MemoryTransport;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * A send queue writes its batches as buffers it owns ({@code Transport.writeOwned}: a transport may
 * then write their direct chunks without holding their memory), and a user's own buffers never
 * go that way. The epoll module's use of it is tested there ({@code SocketSyscallsTest}).
 */
class OwnedWritesTest {
    private static final InetSocketAddress PEER = new InetSocketAddress("127.0.0.1", 40_000);
    private static final InetSocketAddress LOCAL = new InetSocketAddress("127.0.0.1", 9_000);

    @Test
    void aQueuedBatchIsWrittenAsTheQueuesOwnAndAUsersBuffersAreNot() throws Exception {
        MemoryTransport memory = new MemoryTransport();
        Recording transport = new Recording(memory);
        Connection conn = ConnectionOpener.inMemory(transport, PEER, LOCAL);
        DirectChunks pool = new DirectChunks(64L << 20);
        QueueSender sender = QueueSender.options().capacity(100).maxBytes(0).directChunks(pool).build(conn);
        sender.holdWrites();
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        for (int i = 0; i < 8; i++) {
            byte[] m = new byte[100_000]; // held in direct chunks while queued
            Arrays.fill(m, (byte) i);
            sender.put(m);
            sent.write(m);
        }
        sender.resumeWrites();
        await().atMost(Duration.ofSeconds(10)).until(() -> sender.stats().written() == 8);

        assertThat(transport.calls).isNotEmpty().allMatch(c -> c.equals("owned"));
        assertThat(memory.takeOutput()).isEqualTo(sent.toByteArray());

        transport.calls.clear();
        conn.write(ByteBuffer.allocateDirect(3), ByteBuffer.allocateDirect(4));
        assertThat(transport.calls).containsExactly("not owned");
        assertThat(memory.takeOutput()).hasSize(7);
        sender.close();
        conn.close();
    }

    /** Records which of the two writes each call was. */
    private static final class Recording extends ForwardingTransport {
        final List<String> calls = new CopyOnWriteArrayList<>();

        Recording(MemoryTransport delegate) {
            super(delegate);
        }

        @Override
        public void write(ByteBuffer[] srcs, int off, int len, long deadlineNanos) throws IOException {
            calls.add("not owned");
            delegate.write(srcs, off, len, deadlineNanos);
        }

        @Override
        public void writeOwned(ByteBuffer[] srcs, int off, int len, long deadlineNanos) throws IOException {
            calls.add("owned");
            delegate.write(srcs, off, len, deadlineNanos);
        }

        @Override
        public String name() {
            return "recording";
        }
    }
}
