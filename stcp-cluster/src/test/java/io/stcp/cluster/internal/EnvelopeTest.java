package io.stcp.cluster.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.cluster.internal.Envelope.KeyType;
import io.stcp.cluster.internal.Envelope.Kind;
import io.stcp.cluster.internal.Envelope.Malformed;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class EnvelopeTest {
    private static final int MAX = 1 << 20;

    private static byte[] everyByte() {
        byte[] b = new byte[512];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) i;
        }
        return b;
    }

    private static List<Envelope> samples() {
        byte[] p = everyByte();
        return List.of(
                new Envelope(Kind.USER, "node-a", "alice", KeyType.NONE, 0, null, p),
                new Envelope(Kind.USER, "node-a", "ünïcødé 用户", KeyType.INT, -7, null, p),
                new Envelope(Kind.GROUP, "b", "room:42", KeyType.STRING, 0, "quote/ÉUR", new byte[0]),
                new Envelope(Kind.GROUP, "b", "x".repeat(Envelope.MAX_NAME), KeyType.INT, Integer.MIN_VALUE, null, p),
                new Envelope(Kind.ALL, "c", "", KeyType.NONE, 0, null, p),
                new Envelope(Kind.ALL, "c", "", KeyType.STRING, 0, "", p));
    }

    @Test
    void everyKindAndKeyTypeSurvivesTheRoundTripByteForByte() throws Malformed {
        for (Envelope e : samples()) {
            Envelope d = Envelope.decode(e.encode(), MAX);
            assertThat(d.kind()).isEqualTo(e.kind());
            assertThat(d.origin()).isEqualTo(e.origin());
            assertThat(d.target()).isEqualTo(e.target());
            assertThat(d.keyType()).isEqualTo(e.keyType());
            assertThat(d.intKey()).isEqualTo(e.intKey());
            assertThat(d.stringKey()).isEqualTo(e.stringKey());
            assertThat(d.payload()).isEqualTo(e.payload());
        }
    }

    @Test
    void everyTruncationAndEveryExtraByteIsRefused() {
        for (Envelope e : samples()) {
            byte[] full = e.encode();
            for (int n = 0; n < full.length; n++) {
                byte[] cut = java.util.Arrays.copyOf(full, n);
                assertThatThrownBy(() -> Envelope.decode(cut, MAX)).as("first %d of %d bytes", n, full.length).isInstanceOf(Malformed.class);
            }
            byte[] longer = java.util.Arrays.copyOf(full, full.length + 1);
            assertThatThrownBy(() -> Envelope.decode(longer, MAX)).isInstanceOf(Malformed.class).hasMessageContaining("bytes follow");
        }
    }

    @Test
    void aPayloadOverTheLimitIsRefusedWhateverItsHeaderClaims() {
        byte[] ok = new Envelope(Kind.USER, "a", "u", KeyType.NONE, 0, null, new byte[100]).encode();
        assertThatThrownBy(() -> Envelope.decode(ok, 99)).isInstanceOf(Malformed.class).hasMessageContaining("payload length 100");
        // a header claiming 4 GiB - 1: refused from the claim, nothing allocated for it
        byte[] claim = new Envelope(Kind.USER, "a", "u", KeyType.NONE, 0, null, new byte[0]).encode();
        ByteBuffer.wrap(claim).putInt(claim.length - 4, -1);
        assertThatThrownBy(() -> Envelope.decode(claim, MAX)).isInstanceOf(Malformed.class).hasMessageContaining("4294967295");
    }

    @Test
    void badMagicVersionKindKeyTypeOriginAndUtf8AreRefusedWithTheReason() {
        byte[] good = new Envelope(Kind.USER, "a", "u", KeyType.NONE, 0, null, new byte[] {1}).encode();
        assertRefused(good, 0, (byte) 'X', "magic");
        assertRefused(good, 2, (byte) 2, "version 2");
        assertRefused(good, 3, (byte) 4, "kind 4");
        assertRefused(good, 3, (byte) 3, "target length 1 for kind ALL");
        assertRefused(good, 4, (byte) 3, "key type 3");
        assertRefused(good, 5, (byte) 0, "origin length 0");
        assertRefused(good, 5, (byte) 65, "origin length 65");
        assertRefused(good, 9, (byte) 0xFF, "target is not valid UTF-8");
    }

    private static void assertRefused(byte[] good, int index, byte value, String reason) {
        byte[] bad = good.clone();
        bad[index] = value;
        assertThatThrownBy(() -> Envelope.decode(bad, MAX)).isInstanceOf(Malformed.class).hasMessageContaining(reason);
    }

    @Test
    void randomBytesAreNeverAnythingButMalformedOrAValidEnvelope() {
        Random random = new Random(42);
        byte[] seed = new Envelope(Kind.GROUP, "node", "room", KeyType.STRING, 0, "k", new byte[] {1, 2, 3}).encode();
        for (int i = 0; i < 20_000; i++) {
            byte[] b;
            if (i % 2 == 0) {
                b = new byte[random.nextInt(64)];
                random.nextBytes(b);
            } else { // a valid one with a few bytes changed: gets past the magic
                b = seed.clone();
                for (int k = 0; k < 1 + random.nextInt(3); k++) {
                    b[random.nextInt(b.length)] = (byte) random.nextInt();
                }
            }
            try {
                Envelope e = Envelope.decode(b, 16);
                assertThat(e.payload().length).isLessThanOrEqualTo(16);
            } catch (Malformed expected) {
                assertThat(expected.getMessage()).isNotBlank();
            }
        }
    }

    @Test
    void theLongestEnvelopeIsMaxLengthBytes() throws Malformed {
        Envelope longest = new Envelope(Kind.USER, "o".repeat(Envelope.MAX_ORIGIN), "u".repeat(Envelope.MAX_NAME), KeyType.STRING, 0,
                "k".repeat(Envelope.MAX_NAME), new byte[1000]);
        byte[] bytes = longest.encode();
        assertThat((long) bytes.length).isEqualTo(Envelope.maxLength(1000)).isEqualTo(1000 + 131_148);
        assertThat(Envelope.decode(bytes, 1000).payload()).hasSize(1000);
    }

    @Test
    void namesOverTheFormatsLimitAreRefusedWhenEncoding() {
        Envelope e = new Envelope(Kind.USER, "a", "x".repeat(Envelope.MAX_NAME + 1), KeyType.NONE, 0, null, new byte[0]);
        assertThatThrownBy(e::encode).isInstanceOf(IllegalArgumentException.class).hasMessage("name: 65536 UTF-8 bytes (expected: <= 65535)");
    }
}
