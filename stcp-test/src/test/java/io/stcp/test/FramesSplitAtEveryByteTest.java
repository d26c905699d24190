package io.stcp.test;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.CloseReason;
import io.stcp.ConnectionReader;
import io.stcp.framing.DelimiterEncoder;
import io.stcp.framing.DelimiterReader;
import io.stcp.framing.FrameHandler;
import io.stcp.framing.LengthFieldEncoder;
import io.stcp.framing.LengthFieldReader;
import java.io.ByteArrayOutputStream;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The framing readers against their own encoders, with the input split at every byte boundary:
 * fed a byte a read, and cut in two at each offset in turn. The test kit makes each piece one read,
 * which a socket does not promise (FramingPropertiesTest cuts a real socket's stream at random
 * points). The cases are those the random cuts seldom reach: each length field width and order
 * with an offset and an adjustment, the header kept; delimiters that overlap themselves, with
 * frames around the 256 bytes where a delimited read's first array fills and grows; lines whose
 * content ends in {@code '\r'}, with the delimiter kept and stripped.
 */
class FramesSplitAtEveryByteTest {

    record Case(String name, Function<FrameHandler, ConnectionReader> reader, List<byte[]> frames, byte[] wire) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Case> cases() {
        List<Case> cases = new ArrayList<>();
        Random random = new Random(42);
        for (int width : new int[] {1, 2, 3, 4, 8}) {
            for (ByteOrder order : new ByteOrder[] {ByteOrder.BIG_ENDIAN, ByteOrder.LITTLE_ENDIAN}) {
                // A type byte, then the length of the whole frame: adjustment -(1 + width), header kept.
                int header = 1 + width;
                LengthFieldEncoder encoder = LengthFieldEncoder.of(width, order, -header);
                List<byte[]> frames = new ArrayList<>();
                ByteArrayOutputStream wire = new ByteArrayOutputStream();
                for (int length : new int[] {0, 3, 200}) {
                    byte[] body = new byte[length];
                    random.nextBytes(body);
                    byte[] frame = new byte[1 + width + length];
                    frame[0] = (byte) length;
                    System.arraycopy(encoder.encode(body), 0, frame, 1, width + length);
                    frames.add(frame);
                    wire.writeBytes(frame);
                }
                cases.add(new Case("length field of " + width + " " + order, h -> LengthFieldReader.builder()
                        .lengthFieldOffset(1).lengthFieldLength(width).byteOrder(order).lengthAdjustment(-header)
                        .stripHeader(false).build(h), frames, wire.toByteArray()));
            }
        }
        for (String delimiter : new String[] {"aab", "abab", "\r\n\r\n"}) {
            byte[] d = delimiter.getBytes(StandardCharsets.US_ASCII);
            DelimiterEncoder encoder = DelimiterEncoder.of(d);
            List<byte[]> frames = new ArrayList<>();
            ByteArrayOutputStream wire = new ByteArrayOutputStream();
            while (frames.size() < 3) {
                byte[] content = text(random, 252 + random.nextInt(8), "abx\r\n"); // its delimiter near 256
                try {
                    wire.writeBytes(encoder.encode(content));
                    frames.add(content);
                } catch (IllegalArgumentException holdsTheDelimiter) {
                    // the format cannot carry it: another
                }
            }
            cases.add(new Case("delimiter " + delimiter.replace("\r", "\\r").replace("\n", "\\n"),
                    h -> DelimiterReader.builder().delimiter(d).maxLength(300).build(h), frames, wire.toByteArray()));
        }
        for (boolean strip : new boolean[] {true, false}) {
            List<byte[]> frames = new ArrayList<>();
            ByteArrayOutputStream wire = new ByteArrayOutputStream();
            for (int length : new int[] {255, 256, 1}) {
                byte[] content = text(random, length, "ab\r");
                content[length - 1] = '\r'; // goes out as "\r\r\n"
                byte[] line = DelimiterEncoder.lines().encode(content);
                frames.add(strip ? content : line);
                wire.writeBytes(line);
            }
            cases.add(new Case("lines ending in \\r, delimiter " + (strip ? "stripped" : "kept"),
                    h -> DelimiterReader.builder().lines().maxLength(256).stripDelimiter(strip).build(h),
                    frames, wire.toByteArray()));
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void everySplitGivesTheFramesThatWereSent(Case c) throws Exception {
        List<byte[]> bytes = new ArrayList<>();
        for (int i = 0; i < c.wire.length; i++) {
            bytes.add(Arrays.copyOfRange(c.wire, i, i + 1));
        }
        assertDecodes(c, bytes, "a byte a read");
        for (int cut = 1; cut < c.wire.length; cut++) {
            assertDecodes(c, List.of(Arrays.copyOfRange(c.wire, 0, cut), Arrays.copyOfRange(c.wire, cut, c.wire.length)),
                    "cut at " + cut);
        }
    }

    private static void assertDecodes(Case c, List<byte[]> reads, String how) throws Exception {
        List<byte[]> frames = new CopyOnWriteArrayList<>();
        try (TestConnection peer = TestConnection.start(c.reader.apply((sender, frame) -> frames.add(frame)))) {
            reads.forEach(peer::feed);
            peer.endInput();
            assertThat(peer.awaitClose()).as(how + ": " + peer.closeCause()).isEqualTo(CloseReason.PEER_CLOSED);
        }
        assertThat(frames).as(how).containsExactlyElementsOf(c.frames);
    }

    private static byte[] text(Random random, int length, String alphabet) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) alphabet.charAt(random.nextInt(alphabet.length()));
        }
        return b;
    }
}
