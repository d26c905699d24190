package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.GatheringByteChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A thread interrupted during a write on the JDK's blocking channel (a server's stop interrupts its
 * connections' threads): the JDK closes the channel and reports {@link ClosedByInterruptException}
 * even when every byte had already reached the kernel. Such a write is done, and the transport
 * returns (so the sender counts the message written, not discarded); one with bytes left fails.
 */
class InterruptedWriteTest {
    private final ByteArrayOutputStream kernel = new ByteArrayOutputStream();

    @AfterEach
    void clearInterrupt() {
        Thread.interrupted();
    }

    @Test
    void aWriteInterruptedAfterItsLastByteReturnsAndLeavesTheThreadInterrupted() throws IOException {
        ByteBuffer[] srcs = {ByteBuffer.wrap("hel".getBytes()), ByteBuffer.wrap("lo".getBytes())};

        BlockingTransport.writeAll(new InterruptedAfter(5), srcs, 0, 2);

        assertThat(kernel.toString()).isEqualTo("hello");
        assertThat(Thread.currentThread().isInterrupted()).as("the interrupt is kept for the caller").isTrue();
    }

    @Test
    void aWriteInterruptedWithBytesLeftFails() {
        ByteBuffer[] srcs = {ByteBuffer.wrap("hello".getBytes())};

        assertThatThrownBy(() -> BlockingTransport.writeAll(new InterruptedAfter(3), srcs, 0, 1))
                .isInstanceOf(ClosedByInterruptException.class);
        assertThat(kernel.toString()).isEqualTo("hel");
    }

    /**
     * Takes the first {@code budget} bytes written, as a socket would; the call that takes the last
     * of them is interrupted on its way back and reports it as the JDK's channel does.
     */
    private final class InterruptedAfter implements GatheringByteChannel {
        private int budget;
        private boolean open = true;

        InterruptedAfter(int budget) {
            this.budget = budget;
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            if (!open) {
                throw new ClosedChannelException();
            }
            long n = 0;
            for (int i = offset; i < offset + length && budget > 0; i++) {
                int take = Math.min(srcs[i].remaining(), budget);
                byte[] b = new byte[take];
                srcs[i].get(b);
                kernel.write(b, 0, take);
                budget -= take;
                n += take;
            }
            if (budget == 0) {
                open = false;
                Thread.currentThread().interrupt();
                throw new ClosedByInterruptException();
            }
            return n;
        }

        @Override
        public long write(ByteBuffer[] srcs) throws IOException {
            return write(srcs, 0, srcs.length);
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            return (int) write(new ByteBuffer[] {src}, 0, 1);
        }

        @Override
        public boolean isOpen() {
            return open;
        }

        @Override
        public void close() {
            open = false;
        }
    }
}
