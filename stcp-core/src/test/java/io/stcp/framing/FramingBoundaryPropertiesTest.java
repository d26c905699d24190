package io.stcp.framing;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ConnectionReader;
import io.stcp.QueueSender;
import io.stcp.Sender;
import io.stcp.testing.SocketPair;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * Each reader against a model of its limits: a frame at the limit is delivered whole, one byte
 * over is refused with the documented exception, whatever the field width, order, offset,
 * adjustment or delimiter, on a real socket.
 */
class FramingBoundaryPropertiesTest {

    @Provide
    Arbitrary<Integer> fieldLengths() {
        return Arbitraries.of(1, 2, 3, 4, 8);
    }

    @Property(tries = 150)
    void aLengthFieldFrameIsDeliveredExactlyWhenItFitsAndRefusedAsDocumentedOtherwise(
            @ForAll("fieldLengths") int fieldLength, @ForAll boolean littleEndian,
            @ForAll @IntRange(min = 0, max = 3) int offset, @ForAll @IntRange(min = -12, max = 6) int adjustment,
            @ForAll boolean stripHeader, @ForAll boolean rejectEmpty,
            @ForAll @IntRange(min = -2, max = 2) int overMax, @ForAll @IntRange(min = 0, max = 40) int bodyLength)
            throws Exception {
        ByteOrder order = littleEndian ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN;
        int header = offset + fieldLength;
        int max = header + bodyLength - overMax; // the frame is overMax bytes over the limit
        Assume.that(max >= header && max > 0);
        long value = (long) bodyLength - adjustment;
        Assume.that(value >= 0 && value <= LengthField.maxValue(fieldLength));
        byte[] frame = new byte[header + bodyLength];
        Arrays.fill(frame, 0, offset, (byte) 0x5A);
        LengthField.put(frame, offset, fieldLength, order, value);
        for (int i = header; i < frame.length; i++) {
            frame[i] = (byte) i;
        }
        Outcome out = readOne(frame, h -> LengthFieldReader.builder().lengthFieldOffset(offset)
                .lengthFieldLength(fieldLength).byteOrder(order).lengthAdjustment(adjustment).stripHeader(stripHeader)
                .rejectEmptyFrames(rejectEmpty).maxFrameLength(max).build(h));
        if (bodyLength == 0 && rejectEmpty) {
            assertThat(out.failure).isInstanceOf(CorruptFrameException.class);
        } else if (frame.length > max) {
            assertThat(out.failure).isInstanceOf(FrameTooLongException.class);
        } else {
            assertThat(out.failure).isNull();
            assertThat(out.frame).isEqualTo(stripHeader ? Arrays.copyOfRange(frame, header, frame.length) : frame);
        }
    }

    @Property(tries = 150)
    void aDelimitedFrameIsDeliveredExactlyWhenItFitsAndRefusedAsDocumentedOtherwise(
            @ForAll @Size(min = 1, max = 4) List<@IntRange(min = 'a', max = 'c') Integer> delimiterBytes,
            @ForAll boolean lines, @ForAll boolean cr, @ForAll boolean stripDelimiter,
            @ForAll @IntRange(min = 1, max = 12) int maxLength, @ForAll @IntRange(min = -2, max = 2) int overMax)
            throws Exception {
        byte[] delimiter = lines ? new byte[] {'\n'} : toBytes(delimiterBytes);
        int length = maxLength + overMax;
        Assume.that(length >= 0);
        byte[] content = new byte[length];
        Arrays.fill(content, (byte) 'x'); // never part of a delimiter
        byte[] end = lines && cr ? new byte[] {'\r', '\n'} : delimiter;
        byte[] frame = Arrays.copyOf(content, length + end.length);
        System.arraycopy(end, 0, frame, length, end.length);
        Outcome out = readOne(frame, h -> {
            DelimiterReader.Builder b = DelimiterReader.builder().maxLength(maxLength).stripDelimiter(stripDelimiter);
            return (lines ? b.lines() : b.delimiter(delimiter)).build(h);
        });
        if (length > maxLength) {
            assertThat(out.failure).isInstanceOf(FrameTooLongException.class);
        } else {
            assertThat(out.failure).isNull();
            assertThat(out.frame).isEqualTo(stripDelimiter ? content : frame);
        }
        Outcome line = readLine(frame, maxLength);
        if (lines) {
            if (length > maxLength) {
                assertThat(line.failure).isInstanceOf(FrameTooLongException.class);
            } else {
                assertThat(line.failure).isNull();
                assertThat(line.frame).isEqualTo(content);
            }
        }
    }

    private static byte[] toBytes(List<Integer> values) {
        byte[] b = new byte[values.size()];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (int) values.get(i);
        }
        return b;
    }

    private record Outcome(byte[] frame, Throwable failure) {}

    /** Sends {@code bytes} and ends the output; the first frame the reader delivers, or how it failed. */
    private static Outcome readOne(byte[] bytes, java.util.function.Function<FrameHandler, ConnectionReader> readerFor)
            throws Exception {
        try (SocketPair p = SocketPair.open()) {
            p.clientWrite(bytes);
            p.client.shutdownOutput();
            List<byte[]> frames = new ArrayList<>();
            Sender sender = QueueSender.create(p.server, 4);
            try {
                readerFor.apply((s, frame) -> frames.add(frame)).read(sender, p.server);
                return new Outcome(frames.get(0), null);
            } catch (Exception e) {
                return new Outcome(null, e);
            } finally {
                sender.close();
            }
        }
    }

    private static Outcome readLine(byte[] bytes, int maxLength) throws Exception {
        try (SocketPair p = SocketPair.open()) {
            p.clientWrite(bytes);
            p.client.shutdownOutput();
            try {
                return new Outcome(p.server.readLine(maxLength), null);
            } catch (Exception e) {
                return new Outcome(null, e);
            }
        }
    }
}
