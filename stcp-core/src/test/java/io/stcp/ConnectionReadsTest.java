package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.SocketPair;
import java.io.EOFException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class ConnectionReadsTest {

    @Test
    void readsIntegersOfEveryWidthInBothByteOrders() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            ByteBuffer b = ByteBuffer.allocate(64);
            b.put((byte) 0xFE);
            b.order(ByteOrder.BIG_ENDIAN).putShort((short) -2).putShort((short) 0xFFFE).putInt(-3).putInt(0xFFFFFFFD)
                    .putLong(Long.MIN_VALUE + 5);
            b.order(ByteOrder.LITTLE_ENDIAN).putShort((short) 0x1234).putInt(0x12345678).putLong(0x0102030405060708L);
            p.clientWrite(java.util.Arrays.copyOf(b.array(), b.position()));

            Connection c = p.server;
            assertThat(c.readUnsignedByte()).isEqualTo(0xFE);
            assertThat(c.readShort()).isEqualTo((short) -2);
            assertThat(c.readUnsignedShort()).isEqualTo(0xFFFE);
            assertThat(c.readInt()).isEqualTo(-3);
            assertThat(c.readUnsignedInt()).isEqualTo(0xFFFFFFFDL);
            assertThat(c.readLong()).isEqualTo(Long.MIN_VALUE + 5);
            assertThat(c.readShortLE()).isEqualTo((short) 0x1234);
            assertThat(c.readIntLE()).isEqualTo(0x12345678);
            assertThat(c.readLongLE()).isEqualTo(0x0102030405060708L);
            assertThat(c.bytesRead()).isEqualTo(1 + 2 + 2 + 4 + 4 + 8 + 2 + 4 + 8);
        }
    }

    @Test
    void readFullyAssemblesBytesThatArriveInPiecesAndLargeReadsBypassTheBuffer() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            byte[] big = new byte[100_000];
            new java.util.Random(1).nextBytes(big);
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    for (int off = 0; off < big.length; off += 7_000) {
                        p.clientWrite(java.util.Arrays.copyOfRange(big, off, Math.min(big.length, off + 7_000)));
                    }
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            assertThat(p.server.readBytes(big.length)).isEqualTo(big);
            writer.join();
        }
    }

    @Test
    void readReturnsWhatIsAvailableAndMinusOneAtEndOfStream() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            p.clientWrite(new byte[] {1, 2, 3});
            p.client.shutdownOutput();
            byte[] b = new byte[10];
            int total = 0;
            int n;
            while ((n = p.server.read(b, total, b.length - total)) > 0) {
                total += n;
            }
            assertThat(n).isEqualTo(-1);
            assertThat(total).isEqualTo(3);
        }
    }

    @Test
    void endOfStreamInTheMiddleOfAValueIsAnEofException() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            p.clientWrite(new byte[] {0, 0});
            p.client.shutdownOutput();
            assertThatThrownBy(p.server::readInt).isInstanceOf(EOFException.class);
        }
    }

    @Test
    void aReadTimeoutIsADistinctExceptionAndTheConnectionStaysUsable() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            p.server.readTimeout(Duration.ofMillis(100));
            assertThatThrownBy(p.server::readInt).isInstanceOf(ReadTimeoutException.class)
                    .isInstanceOf(SocketTimeoutException.class).hasMessageContaining("100ms");
            p.clientWrite(new byte[] {0, 0, 0, 42});
            p.server.readTimeout(Duration.ofSeconds(10)); // 100 ms is no margin for a loaded machine's poller
            assertThat(p.server.readInt()).isEqualTo(42);
            assertThat(p.server.isOpen()).isTrue();
        }
    }

    @Test
    void aReadDeadlineInThePastFailsAtOnceAndClearingItRestoresBlockingReads() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            p.server.readDeadline(Instant.now().minusSeconds(1));
            assertThatThrownBy(p.server::readInt).isInstanceOf(ReadTimeoutException.class).hasMessageContaining("deadline");
            p.server.readDeadline(Instant.now().plusMillis(100));
            assertThatThrownBy(p.server::readInt).isInstanceOf(ReadTimeoutException.class);
            p.server.readDeadline(null);
            p.clientWrite(new byte[] {0, 0, 0, 7});
            assertThat(p.server.readInt()).isEqualTo(7);
        }
    }

    @Test
    void directWritesFromManyThreadsAreNeverInterleaved() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            int threads = 8;
            int perThread = 200;
            java.util.List<Thread> writers = new java.util.ArrayList<>();
            for (int t = 0; t < threads; t++) {
                byte fill = (byte) t;
                writers.add(Thread.ofVirtual().start(() -> {
                    byte[] chunk = new byte[1000];
                    java.util.Arrays.fill(chunk, fill);
                    try {
                        for (int i = 0; i < perThread; i++) {
                            p.server.write(chunk);
                        }
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }));
            }
            ByteBuffer in = ByteBuffer.allocate(1000);
            for (int i = 0; i < threads * perThread; i++) {
                in.clear();
                while (in.hasRemaining()) {
                    assertThat(p.client.read(in)).isNotNegative();
                }
                byte first = in.get(0);
                for (int j = 1; j < 1000; j++) {
                    assertThat(in.get(j)).isEqualTo(first);
                }
            }
            for (Thread w : writers) {
                w.join();
            }
        }
    }

    @Test
    void wrappingANonBlockingOrUnconnectedChannelIsRejected() throws Exception {
        try (java.nio.channels.SocketChannel unconnected = java.nio.channels.SocketChannel.open()) {
            assertThatThrownBy(() -> Connection.of(unconnected)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("not connected");
            unconnected.configureBlocking(false);
            assertThatThrownBy(() -> Connection.of(unconnected)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("non-blocking");
        }
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"stcp's buffer scan", "the interface's default"})
    void readUntilStopsAfterTheDelimiterOrTheLengthAndReportsEndOfStream(String implementation) throws Exception {
        try (SocketPair p = SocketPair.open()) {
            Connection c = implementation.startsWith("stcp") ? p.server : withDefaultReadUntil(p.server);
            byte[] b = new byte[16];
            p.clientWrite("ab\ncd".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            assertThat(c.readUntil((byte) '\n', b, 0, 16)).isEqualTo(3);
            assertThat(new String(b, 0, 3, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("ab\n");
            int n = 0;
            while (n < 2) { // "cd" may arrive in pieces; nothing after it is waited for
                n += c.readUntil((byte) '\n', b, n, 16 - n);
            }
            assertThat(new String(b, 0, 2, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("cd");

            p.clientWrite("xyz\n!".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            assertThat(c.readUntil((byte) '\n', b, 4, 2)).isEqualTo(2);
            assertThat(new String(b, 4, 2, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("xy");
            assertThat(c.readUntil((byte) '\n', b, 0, 16)).isEqualTo(2); // "z\n", and not the "!" after it
            assertThat(c.readUntil((byte) '\n', b, 0, 0)).isZero();
            assertThat(c.readUnsignedByte()).isEqualTo('!');
            assertThat(c.bytesRead()).isEqualTo(10);

            p.client.shutdownOutput();
            assertThat(c.readUntil((byte) '\n', b, 0, 16)).isEqualTo(-1);
            assertThatThrownBy(() -> c.readUntil((byte) '\n', b, 10, 7)).isInstanceOf(IndexOutOfBoundsException.class);
        }
    }

    /** {@code connection}, but with {@link Connection#readUntil}'s default implementation. */
    private static Connection withDefaultReadUntil(Connection connection) {
        return (Connection) java.lang.reflect.Proxy.newProxyInstance(Connection.class.getClassLoader(),
                new Class<?>[] {Connection.class}, (proxy, method, args) -> method.getName().equals("readUntil")
                        ? java.lang.reflect.InvocationHandler.invokeDefault(proxy, method, args)
                        : method.invoke(connection, args));
    }

    @Test
    void readBytesTakesOnlyItsOwnBytesWhenTheNextFramesArriveWithThem() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            byte[] first = new byte[1000];
            java.util.Arrays.fill(first, (byte) 1);
            byte[] second = new byte[3000];
            java.util.Arrays.fill(second, (byte) 2);
            p.clientWrite(java.nio.ByteBuffer.allocate(4).putInt(first.length).array());
            assertThat(p.server.readInt()).isEqualTo(1000); // the buffer is empty again
            p.clientWrite(java.nio.ByteBuffer.allocate(first.length + 4 + second.length).put(first)
                    .putInt(second.length).put(second).array());
            assertThat(p.server.readBytes(1000)).isEqualTo(first);
            assertThat(p.server.readInt()).isEqualTo(3000);
            assertThat(p.server.readBytes(3000)).isEqualTo(second);
        }
    }
}
