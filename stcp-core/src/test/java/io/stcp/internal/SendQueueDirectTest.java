package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.OverflowPolicy;
import io.stcp.QueueFullException;
import io.stcp.SenderClosedException;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Large plain messages wait in a {@link SendQueue} as {@link DirectMessage}s: the same bytes in
 * direct chunks, given back to the pool however they leave the queue.
 */
class SendQueueDirectTest {
    private static final int LARGE = 200_000; // four chunks
    private static final Random RANDOM = new Random(11);

    private static SendQueue queue(int maxMessages, OverflowPolicy policy, DirectChunks pool) {
        return new SendQueue(new QueueLimits(maxMessages, 0, policy, 0, true, pool), null);
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return b;
    }

    /** What the send thread would write for a drained message. */
    private static byte[] bytesOf(Object message) {
        if (message instanceof byte[] b) {
            return b;
        }
        ByteBuffer[] buffers = new ByteBuffer[BoundedQueue.arrays(message)];
        ((DirectMessage) message).buffers(buffers, 0);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (ByteBuffer b : buffers) {
            byte[] chunk = new byte[b.remaining()];
            b.get(chunk);
            out.writeBytes(chunk);
        }
        return out.toByteArray();
    }

    private static Object[] drainAll(SendQueue q) {
        Object[] out = new Object[16];
        int n = q.drain(out, Long.MAX_VALUE, 1024);
        return java.util.Arrays.copyOf(out, n);
    }

    @Test
    void aLargeMessageWaitsInChunksAndDrainsAsTheSameBytesWhileSmallOnesStayArrays() throws Exception {
        DirectChunks pool = new DirectChunks(1 << 20);
        SendQueue q = queue(0, OverflowPolicy.FAIL, pool);
        byte[] large = random(LARGE);
        byte[] small = random(DirectChunks.CHUNK - 1);
        byte[][] parts = {random(70_000), random(10), random(65_536)};

        assertThat(q.put(large, false)).as("the first put starts a drainer").isTrue();
        q.put(small, false);
        q.putParts(parts, false);
        assertThat(pool.memory().usedBytes()).isEqualTo((4 + 3) * (long) DirectChunks.CHUNK);
        assertThat(q.stats().pendingBytes()).isEqualTo(LARGE + small.length + 70_000 + 10 + 65_536);

        Object[] drained = drainAll(q);
        assertThat(drained).hasSize(3);
        assertThat(drained[0]).isInstanceOf(DirectMessage.class);
        assertThat(bytesOf(drained[0])).isEqualTo(large);
        assertThat(drained[1]).isSameAs(small);
        assertThat(drained[2]).isInstanceOf(DirectMessage.class);
        ByteArrayOutputStream joined = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            joined.writeBytes(p);
        }
        assertThat(bytesOf(drained[2])).isEqualTo(joined.toByteArray());
        assertThat(BoundedQueue.length(drained[2])).isEqualTo(joined.size());

        assertThat(pool.memory().usedBytes()).as("the send thread owns them now").isPositive();
        for (Object m : drained) {
            BoundedQueue.release(m);
            BoundedQueue.release(m); // a second release gives nothing back twice
        }
        assertThat(pool.memory().usedBytes()).isZero();
        assertThat(pool.memory().heldBytes()).isEqualTo(7L * DirectChunks.CHUNK);
    }

    @Test
    void whileThePoolIsSpentALargeMessageIsQueuedAsItsArray() throws Exception {
        DirectChunks pool = new DirectChunks(5L * DirectChunks.CHUNK);
        SendQueue q = queue(0, OverflowPolicy.FAIL, pool);
        byte[] first = random(LARGE);
        byte[] second = random(LARGE);
        q.put(first, false);
        q.put(second, false);

        Object[] drained = drainAll(q);
        assertThat(drained[0]).isInstanceOf(DirectMessage.class);
        assertThat(drained[1]).as("one chunk was left, four were needed").isSameAs(second);
        BoundedQueue.release(drained[0]);
        assertThat(pool.memory().usedBytes()).isZero();
    }

    @Test
    void droppedAndDiscardedMessagesGiveTheirChunksBack() throws Exception {
        DirectChunks pool = new DirectChunks(1 << 20);
        SendQueue q = queue(2, OverflowPolicy.DROP_OLDEST, pool);
        q.put(random(LARGE), false);
        q.put(random(LARGE), false);
        q.put(random(LARGE), false); // drops the first
        assertThat(q.stats().dropped()).isEqualTo(1);
        assertThat(pool.memory().usedBytes()).isEqualTo(8L * DirectChunks.CHUNK);

        assertThat(q.close()).isEqualTo(2);
        assertThat(pool.memory().usedBytes()).isZero();
    }

    @Test
    void aSlowConsumerDisconnectGivesTheChunksBack() throws Exception {
        DirectChunks pool = new DirectChunks(1 << 20);
        SendQueue q = queue(1, OverflowPolicy.CLOSE_CONNECTION, pool);
        q.put(random(LARGE), false);
        assertThatThrownBy(() -> q.put(random(LARGE), false)).isInstanceOf(SlowConsumerException.class);
        assertThat(pool.memory().usedBytes()).isZero();
    }

    @Test
    void aPutThatIsRefusedKeepsNothingOfThePool() throws Exception {
        DirectChunks pool = new DirectChunks(1 << 20);
        SendQueue full = queue(1, OverflowPolicy.FAIL, pool);
        full.put(random(10), false);
        assertThatThrownBy(() -> full.put(random(LARGE), false)).isInstanceOf(QueueFullException.class);
        assertThat(pool.memory().usedBytes()).isZero();

        DirectChunks unused = new DirectChunks(1 << 20);
        SendQueue limited = new SendQueue(new QueueLimits(0, LARGE - 1, OverflowPolicy.FAIL, 0, false, unused), null);
        assertThatThrownBy(() -> limited.put(random(LARGE), false)).isInstanceOf(QueueFullException.class);
        assertThat(unused.memory().heldBytes()).as("too large to queue at all: never copied").isZero();

        SendQueue closed = queue(0, OverflowPolicy.FAIL, pool);
        closed.close();
        assertThatThrownBy(() -> closed.put(random(LARGE), false)).isInstanceOf(SenderClosedException.class);
        assertThatThrownBy(() -> closed.putParts(new byte[][] {random(LARGE)}, false))
                .isInstanceOf(SenderClosedException.class);
        assertThat(pool.memory().usedBytes()).isZero();
    }

    @Test
    void keyedMessagesStayArraysSoThatTheyCanBeConflated() throws Exception {
        DirectChunks pool = new DirectChunks(1 << 20);
        SendQueue q = queue(0, OverflowPolicy.FAIL, pool);
        byte[] latest = random(LARGE);
        q.put((Object) 7, random(LARGE), false);
        q.put((Object) 7, latest, false);
        assertThat(q.stats().conflated()).isEqualTo(1);
        assertThat(drainAll(q)).containsExactly(latest);
        assertThat(pool.memory().heldBytes()).isZero();
    }
}
