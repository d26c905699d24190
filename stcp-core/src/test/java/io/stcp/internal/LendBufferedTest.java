package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link ConnectionInput#lendBuffered}: a reply made in the read buffer itself, its header written
 * over bytes already consumed just before the body; nothing changes when it cannot be made there.
 */
class LendBufferedTest {
    private final MemoryTransport memory = new MemoryTransport();
    private final ConnectionInput input = new ConnectionInput(new CountingTransport(memory), true, null, 0, 0, () -> {});

    private static byte[] bytes(int from, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (from + i);
        }
        return b;
    }

    @AfterEach
    void endInput() {
        input.ended(); // its wide buffer, if it took one, back to the pool
    }

    @Test
    void theHeaderGoesOverTheConsumedBytesBeforeTheBody() throws IOException {
        memory.feed(bytes(0, 100));
        assertThat(input.readInt(true)).isEqualTo(0x00010203);

        ByteBuffer reply = input.lendBuffered(new byte[] {-1, -2, -3}, 50);

        assertThat(reply).isNotNull();
        assertThat(reply.hasArray()).isTrue();
        byte[] got = new byte[reply.remaining()];
        reply.duplicate().get(got);
        byte[] expected = new byte[53];
        expected[0] = -1;
        expected[1] = -2;
        expected[2] = -3;
        System.arraycopy(bytes(4, 50), 0, expected, 3, 50);
        assertThat(got).containsExactly(expected);
        assertThat(input.buffered()).as("the body is consumed").isEqualTo(46);
        assertThat(input.bytesRead()).isEqualTo(54);
        assertThat(input.readUnsignedByte()).isEqualTo(54);
    }

    @Test
    void nothingChangesWhenTheBodyIsNotAllBufferedOrTheHeaderDoesNotFitBeforeIt() throws IOException {
        memory.feed(bytes(0, 20));
        assertThat(input.readShort(true)).isEqualTo((short) 0x0001);

        assertThat(input.lendBuffered(new byte[2], 19)).as("18 buffered").isNull();
        assertThat(input.lendBuffered(new byte[3], 4)).as("2 consumed").isNull();
        assertThat(input.lendBuffered(new byte[2], -1)).isNull();

        assertThat(input.buffered()).isEqualTo(18);
        byte[] rest = new byte[18];
        input.readFully(rest, 0, 18);
        assertThat(rest).containsExactly(bytes(2, 18));
    }

    @Test
    void anEmptyHeaderLendsTheBodyAlone() throws IOException {
        memory.feed(bytes(7, 10));
        input.readUnsignedByte();

        ByteBuffer reply = input.lendBuffered(new byte[0], 9);

        assertThat(reply.remaining()).isEqualTo(9);
        assertThat(Arrays.copyOfRange(reply.array(), reply.position(), reply.limit())).containsExactly(bytes(8, 9));
        assertThat(input.buffered()).isZero();
    }

    @Test
    void aReplyLentToTheQueueNeedsTheDrainOwed() throws IOException {
        memory.feed(bytes(0, 10));
        input.readInt(true);
        ByteBuffer reply = input.lendBuffered(new byte[4], 4);

        assertThatThrownBy(() -> input.lent(reply)).isInstanceOf(IllegalStateException.class);
    }
}
