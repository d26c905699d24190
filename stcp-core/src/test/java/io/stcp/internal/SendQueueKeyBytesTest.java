package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.OverflowPolicy;
import io.stcp.QueueFullException;
import io.stcp.Sender.StringKeyed;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A conflating queue counts a String key's two bytes a char with its message's bytes, from the put
 * that queues it until it leaves: many large keys with 1-byte values cannot hold more than
 * maxBytes, and what a key counted comes back when its entry is drained, dropped or discarded,
 * once, however often its value was replaced.
 */
class SendQueueKeyBytesTest {
    private static final long MAX = 10_000;

    private static SendQueue queue(OverflowPolicy policy) {
        return new SendQueue(new QueueLimits(0, MAX, policy, 0, true, new DirectChunks(0)), null);
    }

    private static String key(char c, int chars) {
        return String.valueOf(c).repeat(chars);
    }

    @ParameterizedTest
    @EnumSource(value = OverflowPolicy.class, names = {"FAIL", "BLOCK", "DROP_OLDEST", "CLOSE_CONNECTION"})
    void aKeyLargerThanMaxBytesIsRefusedEvenWithAOneByteValue(OverflowPolicy policy) {
        SendQueue q = queue(policy);
        assertThatThrownBy(() -> q.put(key('k', 5_000), new byte[1], false)) // 10,000 + 1 bytes
                .isInstanceOf(QueueFullException.class)
                .hasMessageContaining("message of 1 bytes with a key counted as 10000 exceeds the sender's byte limit of 10000");
        assertThat(q.stats().pendingMessages()).isZero();
        assertThat(q.stats().rejected()).isEqualTo(1);
    }

    @Test
    void manyKeysWithOneByteValuesFillMaxBytesAndAreRefusedThen() throws Exception {
        SendQueue q = queue(OverflowPolicy.FAIL);
        int accepted = 0;
        try {
            for (char c = 'a'; c <= 'z'; c++) {
                q.put(key(c, 1_000), new byte[1], false); // 2,001 bytes each
                accepted++;
            }
        } catch (QueueFullException full) {
            assertThat(full).hasMessageContaining("maxBytes " + MAX);
        }
        assertThat(accepted).isEqualTo(4);
        assertThat(q.stats().pendingBytes()).isEqualTo(4 * 2_001L);
    }

    @Test
    void aReplacedValueKeepsItsKeyCountedOnceAndEverythingComesBack() throws Exception {
        SendQueue q = queue(OverflowPolicy.FAIL);
        q.put(key('a', 1_000), new byte[1], false);
        q.put(key('a', 1_000), new byte[10], false); // an equal key, another String: conflated
        q.put(key('a', 1_000), new byte[5], false);
        q.put(7, new byte[3], false); // an int key counts nothing
        assertThat(q.stats().conflated()).isEqualTo(2);
        assertThat(q.stats().pendingBytes()).isEqualTo(2_000 + 5 + 3);

        Object[] out = new Object[8];
        assertThat(q.drain(out, Long.MAX_VALUE, 64)).isEqualTo(2);
        assertThat((byte[]) out[0]).hasSize(5);
        assertThat(q.stats().pendingBytes()).isZero();

        q.put(key('b', 2_000), new byte[1], false);
        assertThat(q.stats().pendingBytes()).isEqualTo(4_001);
        assertThat(q.close()).isEqualTo(1);
        assertThat(q.stats().pendingBytes()).isZero();
    }

    @Test
    void dropOldestDropsKeysToMakeRoomForOthersAndStaysWithinMaxBytes() throws Exception {
        SendQueue q = queue(OverflowPolicy.DROP_OLDEST);
        for (char c = 'a'; c <= 'z'; c++) {
            q.put(key(c, 1_000), new byte[1], false);
            assertThat(q.stats().pendingBytes()).isLessThanOrEqualTo(MAX);
        }
        assertThat(q.stats().pendingMessages()).isEqualTo(4);
        assertThat(q.stats().dropped()).isEqualTo(22);
        assertThat(q.queuedUnder(key('z', 1_000))).hasSize(1);
    }

    @Test
    void aBatchCountsItsKeysOnceEach() throws Exception {
        SendQueue q = queue(OverflowPolicy.FAIL);
        assertThatThrownBy(() -> q.putAll(KeyedBatch.ofString(List.of(
                new StringKeyed(key('a', 3_000), new byte[1]), new StringKeyed(key('b', 3_000), new byte[1]))), false))
                .isInstanceOf(QueueFullException.class).hasMessageContaining("12002 bytes (keys included)");
        q.putAll(KeyedBatch.ofString(List.of(new StringKeyed(key('a', 2_000), new byte[1]),
                new StringKeyed(key('a', 2_000), new byte[2]), new StringKeyed(key('b', 2_000), new byte[1]))), false);
        assertThat(q.stats().pendingBytes()).isEqualTo(8_000 + 2 + 1);
        assertThatThrownBy(() -> q.put(key('c', 2_000), new byte[1], false)).isInstanceOf(QueueFullException.class);
        q.drain(new Object[8], Long.MAX_VALUE, 64);
        assertThat(q.stats().pendingBytes()).isZero();
    }

    @Test
    void aFanOutsOfferCountsTheKeyInEachQueue() throws Exception {
        String shared = key('s', 3_000); // one object for every recipient: each queue counts it
        SendQueue first = queue(OverflowPolicy.FAIL);
        SendQueue second = queue(OverflowPolicy.FAIL);
        for (SendQueue q : List.of(first, second)) {
            assertThat(q.offer(shared, new byte[1], false, System.nanoTime(), null)).isNotEqualTo(SendQueue.WOULD_WAIT);
            assertThat(q.stats().pendingBytes()).isEqualTo(6_001);
            assertThatThrownBy(() -> q.offer(key('t', 3_000), new byte[1], false, System.nanoTime(), null))
                    .isInstanceOf(QueueFullException.class);
            q.close();
            assertThat(q.stats().pendingBytes()).isZero();
        }
    }
}
