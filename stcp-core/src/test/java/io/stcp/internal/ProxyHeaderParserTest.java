package io.stcp.internal;

import static io.stcp.testing.ProxyHeaders.concat;
import static io.stcp.testing.ProxyHeaders.v1;
import static io.stcp.testing.ProxyHeaders.v2;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.ProxyHeader;
import io.stcp.testing.ProxyHeaders;
import java.net.InetSocketAddress;
import java.net.ProtocolException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class ProxyHeaderParserTest {
    private static final InetSocketAddress CLIENT = new InetSocketAddress("192.0.2.7", 56324);
    private static final InetSocketAddress FRONTEND = new InetSocketAddress("198.51.100.1", 443);

    private static ProxyHeader parse(byte[] b) throws ProtocolException {
        ProxyHeaderParser.Kind kind = ProxyHeaderParser.detect(b, b.length);
        if (kind == ProxyHeaderParser.Kind.V1) {
            int length = ProxyHeaderParser.v1Length(b, b.length);
            assertThat(length).as("a complete header").isPositive();
            return ProxyHeaderParser.parseV1(b, length);
        }
        assertThat(kind).isEqualTo(ProxyHeaderParser.Kind.V2);
        int length = ProxyHeaderParser.v2Length(b);
        assertThat(b.length).as("a complete header").isGreaterThanOrEqualTo(length);
        return ProxyHeaderParser.parseV2(b, length);
    }

    @Test
    void detectionNeedsOnlyTheBytesThatCanStillMatchASignature() {
        assertThat(ProxyHeaderParser.detect(new byte[0], 0)).isEqualTo(ProxyHeaderParser.Kind.NEED_MORE);
        assertThat(ProxyHeaderParser.detect("PRO".getBytes(StandardCharsets.US_ASCII), 3))
                .isEqualTo(ProxyHeaderParser.Kind.NEED_MORE);
        assertThat(ProxyHeaderParser.detect("PRI * HTTP/2".getBytes(StandardCharsets.US_ASCII), 12))
                .isEqualTo(ProxyHeaderParser.Kind.NONE);
        assertThat(ProxyHeaderParser.detect(new byte[] {0, 0, 0, 5}, 4)).isEqualTo(ProxyHeaderParser.Kind.NONE);
        assertThat(ProxyHeaderParser.detect(ProxyHeaders.V2_SIGNATURE, 11)).isEqualTo(ProxyHeaderParser.Kind.NEED_MORE);
        assertThat(ProxyHeaderParser.detect(ProxyHeaders.V2_SIGNATURE, 12)).isEqualTo(ProxyHeaderParser.Kind.V2);
        assertThat(ProxyHeaderParser.detect(new byte[] {'\r', '\n', 'x'}, 3)).isEqualTo(ProxyHeaderParser.Kind.NONE);
    }

    @Test
    void v1Tcp4AndTcp6() throws Exception {
        ProxyHeader h = parse(v1(CLIENT, FRONTEND));
        assertThat(h.version()).isEqualTo(1);
        assertThat(h.command()).isEqualTo(ProxyHeader.Command.PROXY);
        assertThat(h.source()).contains(CLIENT);
        assertThat(h.destination()).contains(FRONTEND);
        assertThat(h.tlvs()).isEmpty();

        ProxyHeader h6 = parse(v1("PROXY TCP6 2001:db8::7 2001:db8::1 4242 9000"));
        assertThat(h6.source()).contains(new InetSocketAddress("2001:db8::7", 4242));
        assertThat(h6.destination()).contains(new InetSocketAddress("2001:db8::1", 9000));
    }

    @Test
    void v1UnknownIsAClientWithoutAddresses() throws Exception {
        for (String line : new String[] {"PROXY UNKNOWN", "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535"}) {
            ProxyHeader h = parse(v1(line));
            assertThat(h.command()).isEqualTo(ProxyHeader.Command.PROXY);
            assertThat(h.source()).isEmpty();
        }
    }

    @Test
    void v1LengthWaitsForTheCrlfAndGivesUpAt107Bytes() throws Exception {
        byte[] full = v1(CLIENT, FRONTEND);
        assertThat(ProxyHeaderParser.v1Length(full, full.length - 1)).isEqualTo(-1);
        assertThat(ProxyHeaderParser.v1Length(full, full.length)).isEqualTo(full.length);
        byte[] longest = v1("PROXY UNKNOWN " + "x".repeat(107 - 16)); // exactly 107 with the CRLF
        assertThat(ProxyHeaderParser.v1Length(longest, longest.length)).isEqualTo(107);
        byte[] tooLong = ("PROXY UNKNOWN " + "x".repeat(200)).getBytes(StandardCharsets.US_ASCII);
        assertThat(ProxyHeaderParser.v1Length(tooLong, 106)).isEqualTo(-1);
        assertThatThrownBy(() -> ProxyHeaderParser.v1Length(tooLong, 107)).isInstanceOf(ProtocolException.class)
                .hasMessageContaining("no CRLF within 107 bytes");
        byte[] bareLf = "PROXY UNKNOWN\n".getBytes(StandardCharsets.US_ASCII);
        assertThatThrownBy(() -> ProxyHeaderParser.v1Length(bareLf, bareLf.length)).isInstanceOf(ProtocolException.class);
    }

    @Test
    void malformedV1HeadersAreRefusedWithTheReason() {
        String[] bad = {
            "PROXY TCP5 192.0.2.7 198.51.100.1 56324 443",     // unknown protocol
            "PROXY TCP4 2001:db8::7 198.51.100.1 56324 443",   // IPv6 in TCP4
            "PROXY TCP6 192.0.2.7 2001:db8::1 56324 443",      // IPv4 in TCP6
            "PROXY TCP4 host.example 198.51.100.1 56324 443",  // a name: never looked up
            "PROXY TCP4 192.0.2.256 198.51.100.1 56324 443",   // octet out of range
            "PROXY TCP4 192.0.2.7 198.51.100.1 65536 443",     // port out of range
            "PROXY TCP4 192.0.2.7 198.51.100.1 -1 443",        // not a number
            "PROXY TCP4 192.0.2.7 198.51.100.1 56324",         // a field missing
            "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443 x",   // a field too many
            "PROXY TCP4  192.0.2.7 198.51.100.1 56324 443",    // two spaces
            "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443 ",    // trailing space
            "PROXY ",                                          // nothing
            "PROXY TCP4 192.0.2.7 198.51.100.1 5632\u00e9 443", // not ASCII
            "PROXY TCP6 2001:db8::7%eth0 2001:db8::1 1 2",     // a scope id
            "PROXY TCP6 .:1 ::1 1 2",                          // not a literal (the JDK would look it up)
        };
        for (String line : bad) {
            byte[] b = v1(line);
            assertThatThrownBy(() -> parse(b)).as(line).isInstanceOf(ProtocolException.class)
                    .hasMessageStartingWith("PROXY v1 header");
        }
    }

    @Test
    void v2Inet4AndInet6WithEveryKnownTlv() throws Exception {
        byte[] ssl = ByteBuffer.allocate(5 + 3 + 7 + 3 + 6).put((byte) 0x07).putInt(0)
                .put((byte) 0x21).putShort((short) 7).put("TLSv1.3".getBytes(StandardCharsets.US_ASCII))
                .put((byte) 0x22).putShort((short) 6).put("client".getBytes(StandardCharsets.US_ASCII)).array();
        byte[] b = v2(new InetSocketAddress("2001:db8::7", 4242), new InetSocketAddress("2001:db8::1", 9000))
                .tlv(0x01, "h2").tlv(0x02, "api.example.com").tlv(0x05, new byte[] {1, 2, 3}).tlv(0x20, ssl)
                .tlv(0x30, "blue").tlv(0x04, new byte[10]).tlv(0xE0, new byte[] {9}).crc(true).bytes();
        ProxyHeader h = parse(b);
        assertThat(h.version()).isEqualTo(2);
        assertThat(h.command()).isEqualTo(ProxyHeader.Command.PROXY);
        assertThat(h.source()).contains(new InetSocketAddress("2001:db8::7", 4242));
        assertThat(h.destination()).contains(new InetSocketAddress("2001:db8::1", 9000));
        assertThat(h.alpn()).contains("h2");
        assertThat(h.authority()).contains("api.example.com");
        assertThat(h.uniqueId()).hasValueSatisfying(id -> assertThat(id).containsExactly(1, 2, 3));
        assertThat(h.netns()).contains("blue");
        ProxyHeader.Ssl s = h.ssl().orElseThrow();
        assertThat(s.isTls()).isTrue();
        assertThat(s.hasClientCertificate()).isTrue();
        assertThat(s.isVerified()).isTrue();
        assertThat(s.version()).contains("TLSv1.3");
        assertThat(s.commonName()).contains("client");
        assertThat(h.tlvs()).extracting(ProxyHeader.Tlv::type).as("NOOP dropped, unknown kept, in order")
                .containsExactly(0x01, 0x02, 0x05, 0x20, 0x30, 0xE0, 0x03);
        assertThat(h.tlv(0xE0).orElseThrow().value()).containsExactly(9);

        ProxyHeader h4 = parse(v2(CLIENT, FRONTEND).bytes());
        assertThat(h4.source()).contains(CLIENT);
        assertThat(h4.destination()).contains(FRONTEND);
    }

    /**
     * HAProxy zeroes the SSL TLV and sets its verify field only when the client used a certificate:
     * a TLS client without one arrives with verify 0, which must not read as verified.
     */
    @Test
    void aTlsClientWithoutACertificateIsNotVerifiedThoughTheVerifyFieldIsZero() throws Exception {
        for (int client : new int[] {0x01, 0x00}) { // TLS without a certificate; not TLS at all
            byte[] ssl = ByteBuffer.allocate(5).put((byte) client).putInt(0).array();
            ProxyHeader.Ssl s = parse(v2(CLIENT, FRONTEND).tlv(0x20, ssl).bytes()).ssl().orElseThrow();
            assertThat(s.verifyResult()).isZero();
            assertThat(s.hasClientCertificate()).isFalse();
            assertThat(s.isVerified()).as("client flags %s", client).isFalse();
        }
        byte[] failed = ByteBuffer.allocate(5).put((byte) 0x07).putInt(20).array(); // a certificate that failed
        assertThat(parse(v2(CLIENT, FRONTEND).tlv(0x20, failed).bytes()).ssl().orElseThrow().isVerified()).isFalse();
        byte[] earlier = ByteBuffer.allocate(5).put((byte) 0x05).putInt(0).array(); // verified earlier in the session
        assertThat(parse(v2(CLIENT, FRONTEND).tlv(0x20, earlier).bytes()).ssl().orElseThrow().isVerified()).isTrue();
    }

    @Test
    void v2LocalAndUnspecifiedHaveNoAddresses() throws Exception {
        ProxyHeader local = parse(ProxyHeaders.v2Local().bytes());
        assertThat(local.isLocal()).isTrue();
        assertThat(local.source()).isEmpty();
        // LOCAL with an address block (allowed): the addresses are skipped, the TLVs still read.
        ProxyHeader localWithAddresses = parse(v2(CLIENT, FRONTEND).verCmd(0x20).tlv(0x01, "x").bytes());
        assertThat(localWithAddresses.isLocal()).isTrue();
        assertThat(localWithAddresses.source()).isEmpty();
        assertThat(localWithAddresses.alpn()).contains("x");

        // LOCAL with a family but no address block: the family is ignored for LOCAL (the
        // specification), so this is a health check, not a header too short for its addresses.
        for (int famProto : new int[] {0x11, 0x21, 0x31, 0x12}) {
            ProxyHeader familyWithoutAddresses = parse(ProxyHeaders.v2Local().famProto(famProto).bytes());
            assertThat(familyWithoutAddresses.isLocal()).as("0x%x", famProto).isTrue();
            assertThat(familyWithoutAddresses.source()).isEmpty();
        }
        assertThat(parse(ProxyHeaders.v2Local().famProto(0x21).addresses(new byte[12]).bytes()).isLocal()).isTrue();

        ProxyHeader unspec = parse(ProxyHeaders.v2Local().verCmd(0x21).bytes());
        assertThat(unspec.command()).isEqualTo(ProxyHeader.Command.PROXY);
        assertThat(unspec.source()).isEmpty();
    }

    @Test
    void v2UnixAddresses() throws Exception {
        byte[] addresses = new byte[216];
        byte[] src = "/run/client.sock".getBytes(StandardCharsets.UTF_8);
        byte[] dst = "/run/haproxy.sock".getBytes(StandardCharsets.UTF_8);
        System.arraycopy(src, 0, addresses, 0, src.length);
        System.arraycopy(dst, 0, addresses, 108, dst.length);
        ProxyHeader h = parse(ProxyHeaders.v2Local().verCmd(0x21).famProto(0x31).addresses(addresses).bytes());
        assertThat(h.source()).contains(UnixDomainSocketAddress.of("/run/client.sock"));
        assertThat(h.destination()).contains(UnixDomainSocketAddress.of("/run/haproxy.sock"));
    }

    @Test
    void malformedV2HeadersAreRefusedWithTheReason() {
        byte[][] bad = {
            v2(CLIENT, FRONTEND).verCmd(0x11).bytes(),                    // version 1 in binary
            v2(CLIENT, FRONTEND).verCmd(0x22).bytes(),                    // command 2
            v2(CLIENT, FRONTEND).famProto(0x41).bytes(),                  // family 4
            v2(CLIENT, FRONTEND).famProto(0x13).bytes(),                  // protocol 3
            v2(CLIENT, FRONTEND).famProto(0x12).bytes(),                  // UDP on a stream
            v2(CLIENT, FRONTEND).famProto(0x10).bytes(),                  // INET, protocol unspecified
            ProxyHeaders.v2Local().verCmd(0x21).famProto(0x01).bytes(),   // family unspecified, STREAM
            v2(CLIENT, FRONTEND).famProto(0x21).bytes(),                  // INET6 but 12 bytes of addresses
            v2(CLIENT, FRONTEND).addresses(new byte[8]).bytes(),          // INET with 8 bytes
            v2(CLIENT, FRONTEND).raw(new byte[] {0x01, 0x00, 0x09, 'h'}).bytes(), // TLV overruns
            v2(CLIENT, FRONTEND).raw(new byte[] {0x01, 0x00}).bytes(),    // stray bytes
            v2(CLIENT, FRONTEND).crc(false).bytes(),                      // CRC32C mismatch
            v2(CLIENT, FRONTEND).tlv(0x03, new byte[3]).bytes(),          // CRC32C of 3 bytes
        };
        for (byte[] b : bad) {
            assertThatThrownBy(() -> parse(b)).as(Arrays.toString(b)).isInstanceOf(ProtocolException.class)
                    .hasMessageStartingWith("PROXY v2 header");
        }
    }

    @Test
    void v2LengthIsReadFromTheFixedPart() {
        byte[] b = v2(CLIENT, FRONTEND).length(65535).bytes();
        assertThat(ProxyHeaderParser.v2Length(b)).isEqualTo(16 + 65535);
    }

    /** Whatever follows a v2 signature, the parser answers with a header or a ProtocolException, nothing else. */
    @Property(tries = 2000)
    void anyBytesAfterTheV2SignatureParseOrFailCleanly(@ForAll @Size(max = 300) byte[] rest) {
        byte[] b = concat(ProxyHeaders.V2_SIGNATURE, rest);
        if (b.length < 16 || ProxyHeaderParser.v2Length(b) > b.length) {
            return;
        }
        try {
            ProxyHeaderParser.parseV2(b, ProxyHeaderParser.v2Length(b));
        } catch (ProtocolException expected) {
            // fine
        }
    }

    /** Whatever follows "PROXY ", the parser answers with a header or a ProtocolException, nothing else. */
    @Property(tries = 2000)
    void anyLineAfterTheV1SignatureParsesOrFailsCleanly(@ForAll @Size(max = 120) byte[] rest) {
        byte[] b = concat("PROXY ".getBytes(StandardCharsets.US_ASCII), rest, new byte[] {'\r', '\n'});
        try {
            int length = ProxyHeaderParser.v1Length(b, b.length);
            if (length > 0) {
                ProxyHeaderParser.parseV1(b, length);
            }
        } catch (ProtocolException expected) {
            // fine
        }
    }
}
