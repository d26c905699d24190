package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Protocol;
import redis.clients.jedis.util.RedisInputStream;

/**
 * The subscriber's input: a bulk longer than the limit reaches Jedis as a null bulk, its bytes
 * read and dropped as they stream past, and everything else passes byte for byte, however the
 * reads cut it.
 */
class BulkLimitTest {
    private static final byte[] SMALL = ascii("*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$5\r\nhello\r\n"
            + "+OK\r\n:2\r\n-ERR no\r\n$-1\r\n*-1\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n");

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** A stream that hands out at most {@code chunk} bytes per read: every state cut at every place. */
    private static InputStream trickle(byte[] bytes, int chunk) {
        return new ByteArrayInputStream(bytes) {
            @Override
            public synchronized int read(byte[] b, int off, int len) {
                return super.read(b, off, Math.min(len, chunk));
            }
        };
    }

    /** {@code n} bytes of 'x', made as they are read: never held whole. */
    private static InputStream lazy(long n) {
        return new InputStream() {
            long left = n;

            @Override
            public int read() {
                return left-- > 0 ? 'x' : -1;
            }

            @Override
            public int read(byte[] b, int off, int len) {
                if (left == 0) {
                    return -1;
                }
                int k = (int) Math.min(len, left);
                java.util.Arrays.fill(b, off, off + k, (byte) 'x');
                left -= k;
                return k;
            }
        };
    }

    private static byte[] readAll(InputStream in, int readSize) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] b = new byte[readSize];
        for (int n; (n = in.read(b, 0, readSize)) >= 0; ) {
            assertThat(n).as("a read returns a byte at least").isPositive();
            out.write(b, 0, n);
        }
        return out.toByteArray();
    }

    @Test
    void repliesWithinTheLimitPassByteForByteHoweverTheReadsCutThem() throws IOException {
        for (int chunk : new int[] {1, 2, 3, 7, 8192}) {
            for (int readSize : new int[] {1, 3, 8192}) {
                assertThat(readAll(new BulkLimit(trickle(SMALL, chunk), 7), readSize)).as("chunk %d, read %d", chunk, readSize)
                        .isEqualTo(SMALL);
            }
        }
    }

    @Test
    void aBulkOverTheLimitReachesJedisAsANullBulkAndItsBytesAreSkipped() throws IOException {
        byte[] before = ascii("*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$8\r\n");
        byte[] after = ascii("\r\n*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$5\r\nhello\r\n");
        for (int chunk : new int[] {1, 5, 8192}) {
            BulkLimit in = new BulkLimit(new SequenceInputStream(java.util.Collections.enumeration(List.of(
                    trickle(before, chunk), lazy(8), trickle(after, chunk)))), 7);
            assertThat(new String(readAll(in, 3), StandardCharsets.US_ASCII)).as("chunk %d", chunk)
                    .isEqualTo("*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$-1\r\n*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$5\r\nhello\r\n");
            assertThat(in.skipped()).isEqualTo(8);
        }
    }

    /**
     * What Jedis makes of it: a message of 1 GiB, made as it is read (a heap that held it would
     * need a gigabyte), is a null payload, and the message after it arrives whole.
     */
    @Test
    @SuppressWarnings("deprecation") // Protocol.read(is): the parser its connection calls with a push consumer as well
    void jedisReadsANullPayloadForAGigabyteMessageAndTheNextMessageWhole() {
        long huge = 1L << 30;
        InputStream redis = new SequenceInputStream(java.util.Collections.enumeration(List.of(
                new ByteArrayInputStream(ascii("*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$" + huge + "\r\n")), lazy(huge),
                new ByteArrayInputStream(ascii("\r\n*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nok\r\n")))));
        BulkLimit limited = new BulkLimit(redis, 1 << 20);
        RedisInputStream jedis = new RedisInputStream(limited);
        List<?> first = (List<?>) Protocol.read(jedis);
        assertThat(first).hasSize(3);
        assertThat(first.get(2)).as("the payload").isNull();
        List<?> second = (List<?>) Protocol.read(jedis);
        assertThat(new String((byte[]) second.get(2), StandardCharsets.US_ASCII)).isEqualTo("ok");
        assertThat(limited.skipped()).isEqualTo(huge);
    }

    @Test
    void aBulkHeaderThatIsNoLengthFailsTheRead() {
        for (String bad : new String[] {"$\r\n", "$12a\r\n", "$99999999999\r\n", "$123456789012345678901234\r\n", "$5\n"}) {
            assertThatThrownBy(() -> readAll(new BulkLimit(new ByteArrayInputStream(ascii(bad)), 5), 64)).as(bad)
                    .isInstanceOf(IOException.class).hasMessageContaining("bulk header");
        }
    }
}
