package io.stcp.framing;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Chars;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.constraints.StringLength;

/** Any frames, split at any byte boundaries on a real socket, decode back exactly. */
class FramingPropertiesTest {

    @Provide
    Arbitrary<List<byte[]>> frames() {
        return Arbitraries.bytes().array(byte[].class).ofMaxSize(300).list().ofMinSize(1).ofMaxSize(20);
    }

    @Provide
    Arbitrary<List<Integer>> cuts() {
        return Arbitraries.integers().between(1, 6000).list().ofMaxSize(30);
    }

    @Provide
    Arbitrary<Integer> fieldLengths() {
        return Arbitraries.of(2, 3, 4, 8);
    }

    @Property(tries = 60)
    void lengthFieldFramesSurviveAnySplit(@ForAll("frames") List<byte[]> frames, @ForAll("cuts") List<Integer> cuts,
                                          @ForAll("fieldLengths") int fieldLength, @ForAll boolean littleEndian,
                                          @ForAll @IntRange(min = -4, max = 4) int adjustment) throws Exception {
        ByteOrder order = littleEndian ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN;
        int adj = Math.min(adjustment, 0); // a negative adjustment means the value counts extra bytes
        LengthFieldEncoder encoder = LengthFieldEncoder.of(fieldLength, order, adj);
        List<byte[]> wire = frames.stream().map(encoder::encode).toList();
        List<byte[]> decoded = Wire.decode(Wire.concat(wire), cuts, frames.size(),
                h -> LengthFieldReader.builder().lengthFieldLength(fieldLength).byteOrder(order)
                        .lengthAdjustment(adj).build(h));
        assertThat(decoded).containsExactlyElementsOf(frames);
    }

    @Property(tries = 40)
    void lengthFieldFramesWithAnOffsetKeepTheirHeaderWhenAsked(@ForAll("frames") List<byte[]> frames,
                                                                @ForAll("cuts") List<Integer> cuts) throws Exception {
        // header: a type byte, then a 2-byte little-endian length that counts the whole frame.
        List<byte[]> wire = frames.stream().map(body -> {
            byte[] f = new byte[3 + body.length];
            f[0] = 0x7;
            int total = f.length;
            f[1] = (byte) total;
            f[2] = (byte) (total >>> 8);
            System.arraycopy(body, 0, f, 3, body.length);
            return f;
        }).toList();
        List<byte[]> decoded = Wire.decode(Wire.concat(wire), cuts, frames.size(),
                h -> LengthFieldReader.builder().lengthFieldOffset(1).lengthFieldLength(2)
                        .byteOrder(ByteOrder.LITTLE_ENDIAN).lengthAdjustment(-3).stripHeader(false).build(h));
        assertThat(decoded).containsExactlyElementsOf(wire);
    }

    @Property(tries = 40)
    void oneByteLengthFieldsRoundTrip(@ForAll @Size(min = 1, max = 20) List<@Size(max = 255) byte[]> frames,
                                      @ForAll("cuts") List<Integer> cuts) throws Exception {
        LengthFieldEncoder encoder = LengthFieldEncoder.of(1, ByteOrder.BIG_ENDIAN, 0);
        List<byte[]> decoded = Wire.decode(Wire.concat(frames.stream().map(encoder::encode).toList()), cuts,
                frames.size(), h -> LengthFieldReader.builder().lengthFieldLength(1).build(h));
        assertThat(decoded).containsExactlyElementsOf(frames);
    }

    @Provide
    Arbitrary<List<String>> lines() {
        return Arbitraries.strings().withChars("abc xyz\t\r").ofMaxLength(200)
                .filter(s -> !s.endsWith("\r")).list().ofMinSize(1).ofMaxSize(20);
    }

    @Property(tries = 60)
    void linesWithLfOrCrLfSurviveAnySplit(@ForAll("lines") List<String> lines, @ForAll("cuts") List<Integer> cuts,
                                          @ForAll boolean crlf) throws Exception {
        String text = String.join(crlf ? "\r\n" : "\n", lines) + (crlf ? "\r\n" : "\n");
        List<byte[]> decoded = Wire.decode(text.getBytes(StandardCharsets.UTF_8), cuts, lines.size(),
                h -> DelimiterReader.builder().lines().build(h));
        assertThat(decoded.stream().map(b -> new String(b, StandardCharsets.UTF_8)).toList())
                .containsExactlyElementsOf(lines);
    }

    @Property(tries = 60)
    void customDelimiterFramesSurviveAnySplit(@ForAll("frames") List<byte[]> frames, @ForAll("cuts") List<Integer> cuts)
            throws Exception {
        byte[] delimiter = {(byte) 0xFF, 0x00, (byte) 0xFF};
        List<byte[]> clean = frames.stream().map(f -> {
            byte[] c = f.clone();
            for (int i = 0; i < c.length; i++) {
                if (c[i] == (byte) 0xFF) {
                    c[i] = 1; // keep the delimiter out of the content
                }
            }
            return c;
        }).toList();
        DelimiterEncoder encoder = DelimiterEncoder.of(delimiter);
        List<byte[]> decoded = Wire.decode(Wire.concat(clean.stream().map(encoder::encode).toList()), cuts,
                clean.size(), h -> DelimiterReader.builder().delimiter(delimiter).maxLength(400).build(h));
        assertThat(decoded).containsExactlyElementsOf(clean);
    }

    @Property(tries = 40)
    void fixedLengthFramesSurviveAnySplit(@ForAll @IntRange(min = 1, max = 64) int length,
                                          @ForAll @IntRange(min = 1, max = 40) int count,
                                          @ForAll("cuts") List<Integer> cuts) throws Exception {
        byte[] bytes = new byte[length * count];
        new java.util.Random(length * 31L + count).nextBytes(bytes);
        List<byte[]> decoded = Wire.decode(bytes, cuts, count, h -> FixedLengthReader.of(length, h));
        assertThat(Wire.concat(decoded)).isEqualTo(bytes);
        assertThat(decoded).allSatisfy(f -> assertThat(f).hasSize(length));
    }

    @Provide
    Arbitrary<byte[]> smallAlphabet() {
        return Arbitraries.of((byte) 'a', (byte) 'b').array(byte[].class);
    }

    /**
     * Whatever the delimiter, even one that overlaps itself ({@code aa}, {@code aba}), the encoder
     * either refuses a content or the reader gives back exactly that content, every frame in turn.
     */
    @Property(tries = 120)
    void delimiterEncoderOutputDecodesBackOrIsRefused(
            @ForAll("smallAlphabet") @Size(min = 1, max = 4) byte[] delimiter,
            @ForAll @Size(min = 1, max = 4) List<@From("smallAlphabet") @Size(max = 6) byte[]> contents) throws Exception {
        DelimiterEncoder encoder = DelimiterEncoder.of(delimiter);
        List<byte[]> accepted = new java.util.ArrayList<>();
        List<byte[]> wire = new java.util.ArrayList<>();
        for (byte[] c : contents) {
            try {
                wire.add(encoder.encode(c));
                accepted.add(c);
            } catch (IllegalArgumentException refused) {
                // the format cannot carry it
            }
        }
        List<byte[]> decoded = Wire.decodeToEnd(Wire.concat(wire),
                h -> DelimiterReader.builder().delimiter(delimiter).maxLength(64).build(h));
        assertThat(decoded).containsExactlyElementsOf(accepted);
    }

    @Property(tries = 60)
    void lineEncoderOutputDecodesBackOrIsRefused(
            @ForAll @Size(min = 1, max = 4) List<@StringLength(max = 6) @Chars({'a', '\r', '\n'}) String> lines)
            throws Exception {
        DelimiterEncoder encoder = DelimiterEncoder.lines();
        List<byte[]> accepted = new java.util.ArrayList<>();
        List<byte[]> wire = new java.util.ArrayList<>();
        for (String line : lines) {
            byte[] c = line.getBytes(StandardCharsets.US_ASCII);
            try {
                wire.add(encoder.encode(c));
                accepted.add(c);
            } catch (IllegalArgumentException refused) {
                // the format cannot carry it
            }
        }
        List<byte[]> decoded = Wire.decodeToEnd(Wire.concat(wire), h -> DelimiterReader.builder().lines().build(h));
        assertThat(decoded).containsExactlyElementsOf(accepted);
    }
}
