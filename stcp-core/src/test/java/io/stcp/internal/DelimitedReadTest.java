package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stcp.ServerConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import io.stcp.framing.DelimiterReader;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicReference;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * How {@code readLine} and {@code DelimiterReader} ({@link DelimitedRead}) size the array of a
 * value longer than its first: as {@code readBytes} does ({@link ArrayGrowth}), from the bytes that
 * arrived, to exactly the value once its delimiter is buffered.
 */
class DelimitedReadTest {
    private static final DelimitedRead.Kept WHOLE = (length, before) -> length;
    private static final Object THREADS;
    private static final java.lang.reflect.Method ALLOCATED; // looked up once: a lookup allocates

    static {
        try {
            THREADS = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
            ALLOCATED = Class.forName("com.sun.management.ThreadMXBean").getMethod("getCurrentThreadAllocatedBytes");
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
    private final MemoryTransport memory = new MemoryTransport();
    private final CountingTransport transport = new CountingTransport(memory);
    private RealConnection connection;

    @AfterEach
    void close() {
        if (connection != null) {
            connection.close();
        }
    }

    /** A line of {@code length} bytes of 'x' (its delimiter not among them). */
    private static byte[] longLine(int length) {
        byte[] line = new byte[length];
        Arrays.fill(line, (byte) 'x');
        return line;
    }

    /**
     * Feeds all of {@code line} but its last byte, and has another thread read a line (of at most
     * 8 MiB) from {@code conn}; returns once that read waits with everything fed taken in. The test
     * then feeds the last byte and the delimiter.
     */
    private CompletableFuture<byte[]> readingAllButItsLastByte(RealConnection conn, byte[] line) {
        memory.feed(Arrays.copyOf(line, line.length - 1));
        CompletableFuture<byte[]> read = CompletableFuture.supplyAsync(() -> {
            try {
                return conn.readLine(8 << 20);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> transport.inRead && memory.available() == 0);
        return read;
    }

    @Test
    void pastHalfTheBudgetALineGrowsByAQuarterOfWhatArrived() throws Exception {
        // Other connections hold 9 of 16 MiB. A peer sends 1 MiB of a line and pauses: its array
        // holds at most a quarter more than that, where doubling held 2 MiB for it.
        InboundBudget budget = new InboundBudget(16L << 20);
        long others = 9L << 20;
        budget.reserve(others, true, null, 0, () -> true);
        RealConnection conn = connection(budget);
        int sent = 1 << 20;
        byte[] line = longLine(sent + 1);
        CompletableFuture<byte[]> read = readingAllButItsLastByte(conn, line);

        long array = budget.usedBytes() - others + ConnectionInput.BUFFER_SIZE;
        assertThat(array).as("array for %d bytes sent", sent)
                .isBetween((long) sent, sent + sent / 4 + (long) ConnectionInput.MIN_GROWING);

        memory.feed(new byte[] {'x', '\n'});
        assertThat(read.get(10, TimeUnit.SECONDS)).isEqualTo(line);
        ValueInHand.assertChargedUntilGivenUp(budget, conn.input(), others, line.length);
    }

    @Test
    void aLineWhoseDelimiterArrivesAfterTheLastGrowthIsCopiedOutCounted() throws Exception {
        // 1 MiB of a line, then its last byte and '\n' once the reader waits with an array longer
        // than the line: the line is copied out of it. The copy was counted nowhere; with room for
        // both it is counted on top of the array, before it is made.
        InboundBudget budget = new InboundBudget(16L << 20);
        RealConnection conn = connection(budget);
        int sent = 1 << 20;
        byte[] line = longLine(sent + 1);
        CompletableFuture<byte[]> read = readingAllButItsLastByte(conn, line);
        long array = budget.usedBytes();
        assertThat(array + ConnectionInput.BUFFER_SIZE).as("the array, longer than the line").isGreaterThan(line.length);

        memory.feed(new byte[] {'x', '\n'});
        assertThat(read.get(10, TimeUnit.SECONDS)).isEqualTo(line);
        assertThat(budget.peakBytes()).as("the array and the copy of the line out of it")
                .isEqualTo(array + line.length - ConnectionInput.BUFFER_SIZE);
        ValueInHand.assertChargedUntilGivenUp(budget, conn.input(), 0, line.length); // the copy; the array is garbage
    }

    @Test
    void aCopyThatTheBudgetCannotHoldBesideItsArrayIsCountedInItsPlaceWithoutWaiting() throws Exception {
        // As above, but others hold so much that the array and the copy do not both fit: the
        // copy takes the array's place in one step, and the line is read without a wait.
        InboundBudget budget = new InboundBudget(16L << 20);
        RealConnection conn = connection(budget);
        int sent = 1 << 20;
        byte[] line = longLine(sent + 1);
        CompletableFuture<byte[]> read = readingAllButItsLastByte(conn, line);
        long array = budget.usedBytes();
        long others = budget.limitBytes() - array - sent / 2; // room for half the copy
        budget.reserve(others, true, null, 0, () -> true);

        memory.feed(new byte[] {'x', '\n'});
        assertThat(read.get(10, TimeUnit.SECONDS)).isEqualTo(line);
        assertThat(budget.peakBytes()).as("the array, then the copy in its place").isEqualTo(others + array);
        assertThat(budget.waiters()).isZero();
        ValueInHand.assertChargedUntilGivenUp(budget, conn.input(), others, line.length);
    }

    @Test
    void aLineOfExactlyMaxLengthBeforeItsCrLfIsCopiedOutOfItsArrayCounted() throws Exception {
        // readLine(maxLength) takes maxLength + 1 bytes, the last a '\r', then the '\n' past them:
        // the line is the first maxLength bytes, copied out of their array. The copy was made after
        // the array's part was given back, counted nowhere; now it is counted as any other copy,
        // on top of the array when the budget holds both.
        InboundBudget budget = new InboundBudget(16L << 20);
        RealConnection conn = connection(budget);
        int maxLength = 1 << 20;
        byte[] line = longLine(maxLength);
        memory.feed(line);
        memory.feed(new byte[] {'\r', '\n'});
        assertThat(conn.readLine(maxLength)).isEqualTo(line);
        long array = maxLength + 1 - ConnectionInput.BUFFER_SIZE; // the line and its '\r'
        assertThat(budget.peakBytes()).as("the array and the copy of the line out of it")
                .isEqualTo(array + maxLength - ConnectionInput.BUFFER_SIZE);
        ValueInHand.assertChargedUntilGivenUp(budget, conn.input(), 0, maxLength);
    }

    @Test
    void aValueWhoseDelimiterIsBufferedGrowsToExactlyItsLength() throws Exception {
        RealConnection conn = connection(null);
        byte[] delimiter = ascii("abc");
        // The first array (256 bytes) ends with "ab", the buffer starts with "c": the delimiter
        // spans the two. Then a stray "c" that ends no delimiter, before the one that does.
        String first = "x".repeat(254) + "ab";
        String second = "x".repeat(255) + "bc" + "x".repeat(100) + "abc";
        memory.feed(ascii(first + "c" + second + "tail"));

        assertReadIntoExactly(DelimitedRead.read(conn, delimiter, 1 << 20, "frame", WHOLE), first + "c");
        assertReadIntoExactly(DelimitedRead.read(conn, delimiter, 1 << 20, "frame", WHOLE), second);
    }

    @Test
    void aFrameWhoseDelimiterIsBufferedIsOneArrayNotCopiedOutOfAnother() throws Exception {
        // 3,000 bytes and "\r\n", all buffered when the first array (256 bytes) is full: the array
        // grows to exactly the content. It grew to the whole line and the content was copied out:
        // twice the frame held, the copy counted in no budget.
        RealConnection conn = connection(null);
        byte[] content = new byte[3000];
        Arrays.fill(content, (byte) 'x');
        byte[] wire = Arrays.copyOf(content, content.length + 2);
        wire[content.length] = '\r';
        wire[content.length + 1] = '\n';
        AtomicReference<byte[]> frame = new AtomicReference<>();
        DelimiterReader reader = DelimiterReader.builder().lines().build((sender, f) -> frame.set(f));
        for (int i = 0; i < 3; i++) { // the first rounds load classes and allocate the read buffer
            memory.feed(wire);
            long before = allocatedBytes();
            reader.read(null, conn);
            long allocated = allocatedBytes() - before;
            assertThat(frame.get()).isEqualTo(content);
            if (i == 2) {
                // The first array and the frame's, a few small objects: well under a second copy.
                assertThat(allocated).as("bytes allocated to read a frame of %d", content.length)
                        .isLessThan(content.length * 3L / 2);
            }
        }
    }

    @Test
    void aFrameWhoseDroppedBytesBeginInTheFullArrayKeepsTheBytesBeforeThem() throws Exception {
        // The first array (256 bytes) ends with the '\r' of a "\r\n" and the '\n' is buffered: the
        // frame is the array's first 255 bytes; likewise a delimiter whose first bytes fill it.
        RealConnection conn = connection(null);
        String line = "x".repeat(255);
        String frame = "y".repeat(254);
        memory.feed(ascii(line + "\r\n" + frame + "abc" + "tail"));
        AtomicReference<byte[]> got = new AtomicReference<>();
        DelimiterReader.builder().lines().build((sender, f) -> got.set(f)).read(null, conn);
        assertThat(new String(got.get(), StandardCharsets.US_ASCII)).isEqualTo(line);
        DelimiterReader.builder().delimiter(ascii("abc")).build((sender, f) -> got.set(f)).read(null, conn);
        assertThat(new String(got.get(), StandardCharsets.US_ASCII)).isEqualTo(frame);
    }

    /** The value read is {@code expected}, in an array of its length (doubling made one of 512 bytes). */
    private static void assertReadIntoExactly(DelimitedRead.Bytes read, String expected) {
        assertThat(read.delimited()).isTrue();
        assertThat(new String(read.bytes(), 0, read.length(), StandardCharsets.US_ASCII)).isEqualTo(expected);
        assertThat(read.bytes().length).as("the array's length").isEqualTo(expected.length());
    }

    /** The bytes this thread has allocated so far (the JDK's management bean; this module does not read its module). */
    private static long allocatedBytes() throws ReflectiveOperationException {
        return (long) ALLOCATED.invoke(THREADS);
    }

    private RealConnection connection(InboundBudget budget) {
        ConnectionContext context = new ConnectionContext(Sweeper.SHARED, budget, Transports.sourceOrNull(), ExitLog.SHARED,
                Nanos.timeout(ServerConfig.DEFAULT_WRITE_TIMEOUT), 0, 0, 0, List.of());
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", 1);
        connection = new RealConnection(null, address, address, true, context, x -> transport);
        return connection;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
