package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.stcp.QueueSender;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A thread interrupted during a write (a server's stop interrupts its connections' threads): the
 * JDK closes the channel and reports {@link ClosedByInterruptException} even when every byte had
 * already reached the kernel. Such a write is done, and counts as written (a reply written inline by
 * the reader, or a queued one by the send thread); one with bytes left fails.
 */
class InterruptedWriteTest {
    private static final InetSocketAddress PEER = new InetSocketAddress("127.0.0.1", 40_000);
    private static final InetSocketAddress LOCAL = new InetSocketAddress("127.0.0.1", 9_000);

    private final MemoryTransport memory = new MemoryTransport();

    @AfterEach
    void clearInterrupt() {
        Thread.interrupted();
    }

    @Test
    void aWriteInterruptedAfterItsLastByteReturnsAndLeavesTheThreadInterrupted() throws IOException {
        RealConnection conn = ConnectionOpener.inMemory(new InterruptedAfter(memory, 5), PEER, LOCAL);

        conn.write("hello".getBytes(), 0, 5);

        assertThat(Thread.currentThread().isInterrupted()).isTrue();
        assertThat(memory.takeOutput()).isEqualTo("hello".getBytes());
        assertThat(conn.bytesWritten()).isEqualTo(5);
        assertThatThrownBy(() -> conn.write(new byte[1], 0, 1)).as("the channel is closed").isInstanceOf(IOException.class);
    }

    @Test
    void aWriteInterruptedWithBytesLeftFails() {
        RealConnection conn = ConnectionOpener.inMemory(new InterruptedAfter(memory, 3), PEER, LOCAL);

        assertThatThrownBy(() -> conn.write("hello".getBytes(), 0, 5)).isInstanceOf(ClosedByInterruptException.class);
        assertThat(conn.bytesWritten()).isEqualTo(3);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"put", "putParts", "queued"})
    void aReplyWhoseWriteWasInterruptedAfterItsLastByteCountsAsWritten(String how) {
        RealConnection conn = ConnectionOpener.inMemory(new InterruptedAfter(memory, 5), PEER, LOCAL);
        QueueSender sender = QueueSender.options().capacity(10).writeInline(!how.equals("queued")).build(conn);
        conn.readerThread(Thread.currentThread()); // the reader's reply, written inline unless queued

        if (how.equals("putParts")) {
            sender.putParts("he".getBytes(), "llo".getBytes());
        } else {
            sender.put("hello".getBytes());
        }

        await().atMost(Duration.ofSeconds(10)).until(() -> sender.stats().written() + sender.stats().discarded() == 1);
        assertThat(sender.stats().written()).isEqualTo(1);
        assertThat(sender.close()).as("nothing discarded").isZero();
        assertThat(memory.takeOutput()).isEqualTo("hello".getBytes());
    }

    /**
     * Passes the first {@code budget} bytes to the memory transport; then the writing thread is
     * interrupted, and the channel closed with it, as the JDK's would be.
     */
    private static final class InterruptedAfter extends ForwardingTransport {
        private int budget;

        InterruptedAfter(MemoryTransport delegate, int budget) {
            super(delegate);
            this.budget = budget;
        }

        @Override
        public void write(ByteBuffer[] srcs, int off, int len, long deadlineNanos) throws IOException {
            if (!delegate.isOpen()) {
                throw new IOException("closed (test)");
            }
            for (int i = off; i < off + len; i++) {
                ByteBuffer src = srcs[i];
                int n = Math.min(src.remaining(), budget);
                delegate.write(new ByteBuffer[] {src.slice(src.position(), n)}, 0, 1, deadlineNanos);
                src.position(src.position() + n);
                budget -= n;
            }
            Thread.currentThread().interrupt();
            delegate.close();
            throw new ClosedByInterruptException();
        }

        @Override
        public String name() {
            return "interrupted";
        }
    }
}
