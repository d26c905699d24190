package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link ConnectionInput#readDirect}: when a relayed body is waited for, what it holds meanwhile,
 * and what it reserves from the inbound budget (see {@code RelayTest} for the same over sockets).
 */
class ReadDirectTest {
    private final MemoryTransport memory = new MemoryTransport();
    private final DirectReading transport = new DirectReading(memory);
    private final DirectChunks pool = new DirectChunks(8L << 20);
    private ConnectionInput input;

    /** Reads into direct buffers through the memory transport, and notes each wait in the kernel. */
    private final class DirectReading extends ForwardingTransport {
        int awaits;
        int bufferWhileAwaiting = -1;

        DirectReading(MemoryTransport delegate) {
            super(delegate);
        }

        @Override
        public String name() {
            return "direct-reading";
        }

        @Override
        public boolean readsDirect() {
            return true;
        }

        @Override
        public long read(ByteBuffer[] dsts, int off, int len, long deadlineNanos) throws IOException {
            ByteBuffer into = dsts[off];
            byte[] b = new byte[into.remaining()];
            int n = delegate.read(b, 0, b.length, deadlineNanos);
            if (n > 0) {
                into.put(b, 0, n);
            }
            return n;
        }

        @Override
        public long readNow(ByteBuffer[] dsts, int off, int len) throws IOException {
            return delegate.available() > 0 ? read(dsts, off, len, 0) : 0;
        }

        @Override
        public void awaitInput(int bytes, long deadlineNanos) {
            awaits++;
            bufferWhileAwaiting = input.bufferCapacity();
        }
    }

    @AfterEach
    void endInput() {
        if (input != null) {
            input.ended();
        }
    }

    @Test
    void aBodyAllBufferedIsCopiedWithoutABudget() throws IOException {
        byte[] body = body(65_532); // with its length, a large buffer's worth exactly
        int n = lengthRead(16 * 1024, frame(body), 4 + body.length);
        assertThat(input.buffered()).isEqualTo(n);

        DirectMessage m = input.readDirect(pool, header(n), n);

        assertThat(m).as("read, though the budget (16 KiB) could not hold it: it is in memory already").isNotNull();
        assertThat(contents(m)).isEqualTo(frame(body));
        assertThat(transport.awaits).isZero();
        m.release();
    }

    @Test
    void aShortRestIsReadDirectOnlyIfItHasArrivedNeverWaitedFor() throws IOException {
        byte[] frame = frame(body(100_000));
        int n = lengthRead(1L << 20, frame, 4 + 60_000);
        assertThat(input.buffered()).isEqualTo(60_000);

        assertThat(input.readDirect(pool, header(n), n)).as("40,000 bytes not there yet").isNull();
        assertThat(transport.awaits).as("a rest no larger than a read buffer is read as it comes").isZero();

        memory.feed(Arrays.copyOfRange(frame, 4 + 60_000, frame.length));
        DirectMessage m = input.readDirect(pool, header(n), n);
        assertThat(contents(m)).isEqualTo(frame);
        m.release();
    }

    @Test
    void aLargeRestWaitsInTheKernelWithoutAReadBuffer() throws IOException {
        byte[] frame = frame(body(200_000));
        int n = lengthRead(1L << 20, frame, 4);
        assertThat(input.buffered()).isZero();
        memory.feed(Arrays.copyOfRange(frame, 4, frame.length));

        DirectMessage m = input.readDirect(pool, header(n), n);

        assertThat(transport.awaits).isEqualTo(1);
        assertThat(transport.bufferWhileAwaiting).as("no read buffer held while waiting").isZero();
        assertThat(contents(m)).isEqualTo(frame);
        m.release();
    }

    /**
     * A connection with a budget of {@code budgetBytes}, whose read buffer is a wide one, has read
     * the length of {@code frame}, of which the first {@code arrived} bytes have come.
     */
    private int lengthRead(long budgetBytes, byte[] frame, int arrived) throws IOException {
        input = new ConnectionInput(transport, true, new InboundBudget(budgetBytes), 0, 0, () -> {});
        for (int i = 0; i < 2; i++) {
            memory.feed(frame(body(16 * 1024)));
            input.readBytes(input.readInt(true));
        }
        assertThat(input.bufferCapacity()).isEqualTo(ReadBuffers.WIDE);
        memory.feed(Arrays.copyOf(frame, arrived));
        return input.readInt(true);
    }

    private static byte[] body(int size) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (i * 7 + 3);
        }
        return b;
    }

    private static byte[] header(int n) {
        return ByteBuffer.allocate(4).putInt(n).array();
    }

    private static byte[] frame(byte[] body) {
        return ByteBuffer.allocate(4 + body.length).put(header(body.length)).put(body).array();
    }

    private static byte[] contents(DirectMessage m) {
        ByteBuffer[] buffers = new ByteBuffer[m.chunkCount()];
        m.buffers(buffers, 0);
        ByteBuffer all = ByteBuffer.allocate((int) m.length());
        for (ByteBuffer b : buffers) {
            all.put(b.duplicate());
        }
        return all.array();
    }
}
