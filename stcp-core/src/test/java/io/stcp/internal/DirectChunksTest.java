package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** {@link DirectChunks}: lends whole chunks up to its limit, and keeps what is given back for the next take. */
class DirectChunksTest {
    private static final int CHUNK = DirectChunks.CHUNK;

    @Test
    void lendsUpToItsLimitAndNoMore() {
        DirectChunks pool = new DirectChunks(4L * CHUNK + CHUNK / 2); // rounded down to 4 chunks
        assertThat(pool.limitBytes()).isEqualTo(4L * CHUNK);

        ByteBuffer[] three = pool.take(3);
        assertThat(three).hasSize(3).allSatisfy(c -> {
            assertThat(c.isDirect()).isTrue();
            assertThat(c.capacity()).isEqualTo(CHUNK);
            assertThat(c.position()).isZero();
        });
        assertThat(pool.take(2)).as("one chunk is left").isNull();
        assertThat(pool.memory().usedBytes()).isEqualTo(3L * CHUNK);

        ByteBuffer[] one = pool.take(1);
        assertThat(one).hasSize(1);
        assertThat(pool.take(1)).isNull();

        pool.give(three);
        pool.give(one);
        assertThat(pool.memory().usedBytes()).isZero();
        assertThat(pool.take(4)).hasSize(4);
    }

    @Test
    void chunksGivenBackAreLentAgainClearedInsteadOfMadeAnew() {
        DirectChunks pool = new DirectChunks(8L * CHUNK);
        ByteBuffer[] first = pool.take(2);
        first[0].put(new byte[100]).flip();
        first[1].position(CHUNK);
        pool.give(first);

        ByteBuffer[] again = pool.take(2);
        assertThat(again).containsExactlyInAnyOrder(first);
        assertThat(again).allSatisfy(c -> {
            assertThat(c.position()).isZero();
            assertThat(c.limit()).isEqualTo(CHUNK);
        });
        assertThat(pool.memory().heldBytes()).as("nothing new was made").isEqualTo(2L * CHUNK);

        pool.take(3);
        assertThat(pool.memory().heldBytes()).isEqualTo(5L * CHUNK);
    }

    @Test
    void aPoolOfNothingLendsNothing() {
        DirectChunks pool = new DirectChunks(CHUNK - 1);
        assertThat(pool.limitBytes()).isZero();
        assertThat(pool.take(1)).isNull();
        assertThat(pool.memory().heldBytes()).isZero();
        assertThatThrownBy(() -> new DirectChunks(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("-1");
    }

    @Test
    void onlyMessagesOfAChunkAndMoreAreWorthCopying() {
        assertThat(DirectChunks.worthCopying(CHUNK - 1)).isFalse();
        assertThat(DirectChunks.worthCopying(CHUNK)).isTrue();
        assertThat(DirectChunks.chunksFor(CHUNK)).isEqualTo(1);
        assertThat(DirectChunks.chunksFor(CHUNK + 1)).isEqualTo(2);
        assertThat(DirectChunks.chunksFor(1 << 20)).isEqualTo(16);
    }

    @Test
    void theProcessWideLimitIsAnEighthOfTheHeapAtMostAGibibyteUnlessThePropertySaysOtherwise() {
        assertThat(DirectChunks.limitOf(null, 8L << 30)).isEqualTo(1L << 30);
        assertThat(DirectChunks.limitOf(" ", 1L << 30)).isEqualTo(128L << 20);
        assertThat(DirectChunks.limitOf(" 1048576 ", 1L << 30)).isEqualTo(1L << 20);
        assertThat(DirectChunks.limitOf("0", 1L << 30)).isZero();
        assertThat(DirectChunks.limitOf("-5", 1L << 30)).isEqualTo(-1);
        assertThat(DirectChunks.limitOf("64m", 1L << 30)).isEqualTo(-1);
        assertThat(DirectChunks.shared().limitBytes())
                .isEqualTo(DirectChunks.limitOf(System.getProperty(DirectChunks.PROPERTY), Runtime.getRuntime().maxMemory())
                        / DirectChunks.CHUNK * DirectChunks.CHUNK);
    }
}
