package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/**
 * {@link PackedChunks}: medium messages share a chunk back to back, and a chunk goes back to the
 * pool as soon as the last message in it is released, whether it is still being filled or not.
 */
class PackedChunksTest {
    private static final int QUARTER = DirectChunks.CHUNK / 4;

    private static DirectMessage filled(PackedChunks packer, int length, byte value) {
        DirectMessage m = packer.take(length);
        assertThat(m).isNotNull();
        ByteBuffer b = m.fillBuffer();
        while (b.hasRemaining()) {
            b.put(value);
        }
        return m.filled();
    }

    private static byte[] bytesOf(DirectMessage m) {
        ByteBuffer[] buffers = new ByteBuffer[m.chunkCount()];
        m.buffers(buffers, 0);
        byte[] out = new byte[(int) m.length()];
        buffers[0].get(out);
        return out;
    }

    @Test
    void onlyMediumMessagesArePacked() {
        assertThat(PackedChunks.worthPacking(PackedChunks.MIN - 1)).isFalse();
        assertThat(PackedChunks.worthPacking(PackedChunks.MIN)).isTrue();
        assertThat(PackedChunks.worthPacking(DirectChunks.CHUNK - 1)).isTrue();
        assertThat(PackedChunks.worthPacking(DirectChunks.CHUNK)).isFalse();
    }

    @Test
    void messagesShareAChunkAndEachKeepsItsOwnBytes() {
        DirectChunks pool = new DirectChunks(1 << 20);
        PackedChunks packer = new PackedChunks(pool);
        DirectMessage[] m = new DirectMessage[4];
        for (int i = 0; i < 4; i++) {
            m[i] = filled(packer, QUARTER, (byte) (i + 1));
        }
        assertThat(pool.memory().usedBytes()).as("four quarters, one chunk").isEqualTo(DirectChunks.CHUNK);
        for (int i = 0; i < 4; i++) {
            assertThat(m[i].length()).isEqualTo(QUARTER);
            assertThat(bytesOf(m[i])).as("message %d", i).containsOnly((byte) (i + 1));
        }
        DirectMessage fifth = filled(packer, PackedChunks.MIN, (byte) 5);
        assertThat(pool.memory().usedBytes()).as("the next one did not fit").isEqualTo(2L * DirectChunks.CHUNK);

        for (int i = 0; i < 3; i++) {
            m[i].release();
        }
        assertThat(pool.memory().usedBytes()).as("one message still holds the first chunk").isEqualTo(2L * DirectChunks.CHUNK);
        m[3].release();
        m[3].release(); // twice: counted once
        assertThat(pool.memory().usedBytes()).as("the first chunk went back").isEqualTo(DirectChunks.CHUNK);
        assertThat(bytesOf(fifth)).containsOnly((byte) 5);
        fifth.release();
        assertThat(pool.memory().usedBytes()).as("the chunk being filled went back with its last message").isZero();

        DirectMessage again = filled(packer, QUARTER, (byte) 6);
        assertThat(pool.memory().usedBytes()).as("the next message takes a chunk again").isEqualTo(DirectChunks.CHUNK);
        again.release();
        assertThat(pool.memory().usedBytes()).isZero();
    }

    @Test
    void aPoolWithNoRoomPacksNothing() {
        PackedChunks packer = new PackedChunks(new DirectChunks(0));
        assertThat(packer.take(QUARTER)).isNull();
    }
}
