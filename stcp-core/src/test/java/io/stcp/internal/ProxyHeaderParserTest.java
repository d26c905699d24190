package io.stcp.internal;

import static io.stcp.testing.ProxyHeaders.concat;
import static io.stcp.testing.ProxyHeaders.v1;
import static io.stcp.testing.ProxyHeaders.v2;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.ProxyHeader;
import io.stcp.ProxyProtocol;
import io.stcp.testing.ProcessWatchdog;
import io.stcp.testing.ProxyHeaders;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProtocolException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Assumptions;
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

    /**
     * The specification writes IPv4 numbers and ports "without heading zeroes, to avoid any
     * possible confusion with octal numbers", and HAProxy reads TCP6 addresses with inet_pton,
     * which refuses them in an IPv4 tail and more than four hex digits in a group. Before,
     * 010.0.0.1 was read as 10.0.0.1 (where inet_aton reads 8.0.0.1) and the JDK's parser took
     * the IPv6 forms.
     */
    @Test
    void v1AddressesAndPortsWithHeadingZeroesOrOtherFormsInetPtonRefusesAreRefused() {
        String[] bad = {
            "PROXY TCP4 010.0.0.1 10.0.0.2 56324 443",
            "PROXY TCP4 10.0.0.1 10.00.0.2 56324 443",
            "PROXY TCP4 10.0.0.1 10.0.0.02 56324 443",
            "PROXY TCP4 00.0.0.1 10.0.0.2 56324 443",
            "PROXY TCP4 1.2.3 10.0.0.2 56324 443",
            "PROXY TCP4 1.2.3.4.5 10.0.0.2 56324 443",
            "PROXY TCP4 1..3.4 10.0.0.2 56324 443",
            "PROXY TCP4 10.0.0.1 10.0.0.2 0443 443",
            "PROXY TCP4 10.0.0.1 10.0.0.2 443 00",
            "PROXY TCP6 ::ffff:010.0.0.1 2001:db8::1 1 2",
            "PROXY TCP6 ::ffff:10.0.0.01 2001:db8::1 1 2",
            "PROXY TCP6 ::1.2.3.04 2001:db8::1 1 2",
            "PROXY TCP6 00001::1 2001:db8::1 1 2",
            "PROXY TCP6 1:2:3:4:5:6:7:8:9 2001:db8::1 1 2",
            "PROXY TCP6 1:2:3:4:5:6:7:8:: 2001:db8::1 1 2",
            "PROXY TCP6 1:2:3:4:5:6:7:1.2.3.4 2001:db8::1 1 2",
            "PROXY TCP6 1::2::3 2001:db8::1 1 2",
            "PROXY TCP6 :1::2 2001:db8::1 1 2",
            "PROXY TCP6 1::2: 2001:db8::1 1 2",
            "PROXY TCP6 ::: 2001:db8::1 1 2",
            "PROXY TCP6 ::ffff:1.2.3 2001:db8::1 1 2",
            "PROXY TCP6 1.2.3.4:: 2001:db8::1 1 2",
        };
        for (String line : bad) {
            assertThatThrownBy(() -> parse(v1(line))).as(line).isInstanceOf(ProtocolException.class)
                    .hasMessageStartingWith("PROXY v1 header");
        }
    }

    @Test
    void v1AddressesInEveryFormInetPtonTakesAreRead() throws Exception {
        assertThat(parse(v1("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535")).source())
                .contains(new InetSocketAddress("0.0.0.0", 0));
        assertThat(parse(v1("PROXY TCP4 10.0.0.1 100.10.1.0 1 10")).destination())
                .contains(new InetSocketAddress("100.10.1.0", 10));
        String[][] v6 = {
            {"::", "::"},
            {"::1", "::1"},
            {"1::", "1::"},
            {"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
            {"::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"},
            {"0001:0db8:0000::0001", "1:db8::1"},
            {"FE80::A:b", "fe80::a:b"},
            {"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"},
            {"::1.2.3.4", "::102:304"},
            {"::ffff:10.0.0.1", "10.0.0.1"}, // IPv4-mapped: the JDK's InetAddress makes it IPv4
            {"::ffff:0.0.0.0", "0.0.0.0"},
        };
        for (String[] c : v6) {
            ProxyHeader h = parse(v1("PROXY TCP6 " + c[0] + " ::1 1 2"));
            assertThat(h.source()).as(c[0]).contains(new InetSocketAddress(c[1], 1));
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
     * {@link ProxyHeader#ssl()} parses the SSL TLV once a header: every call, from any thread,
     * returns the same {@code Ssl}, and a call after the first allocates nothing. The old code
     * parsed it again at each call, a new {@code Ssl} with a copy of every sub-TLV (633 bytes a
     * call for the five sub-TLVs here, as HAProxy's {@code send-proxy-v2-ssl-cn} sends).
     */
    @Test
    void sslIsParsedOnceAHeaderWhateverTheThreadsAskingAndAskingAgainAllocatesNothing() throws Exception {
        ByteBuffer ssl = ByteBuffer.allocate(256).put((byte) 0x07).putInt(0);
        for (String[] sub : new String[][] {{"21", "TLSv1.3"}, {"23", "TLS_AES_128_GCM_SHA256"}, {"24", "SHA256"},
                {"25", "RSA2048"}, {"22", "client.example.com"}}) {
            byte[] text = sub[1].getBytes(StandardCharsets.US_ASCII);
            ssl.put((byte) Integer.parseInt(sub[0], 16)).putShort((short) text.length).put(text);
        }
        ProxyHeader h = parse(v2(CLIENT, FRONTEND).tlv(0x20, Arrays.copyOf(ssl.array(), ssl.position())).bytes());

        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.atomic.AtomicReferenceArray<ProxyHeader.Ssl> seen =
                new java.util.concurrent.atomic.AtomicReferenceArray<>(4);
        List<Thread> askers = new ArrayList<>();
        for (int i = 0; i < seen.length(); i++) {
            int at = i;
            askers.add(Thread.ofPlatform().start(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                seen.set(at, h.ssl().orElseThrow());
            }));
        }
        go.countDown(); // the first calls at once
        for (Thread t : askers) {
            t.join(java.time.Duration.ofSeconds(10));
        }
        ProxyHeader.Ssl first = h.ssl().orElseThrow();
        for (int i = 0; i < seen.length(); i++) {
            assertThat(seen.get(i)).as("asker %s", i).isSameAs(first);
        }
        assertThat(first.cipher()).contains("TLS_AES_128_GCM_SHA256");
        assertThat(first.commonName()).contains("client.example.com");

        Object threads = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
        java.lang.reflect.Method allocated = Class.forName("com.sun.management.ThreadMXBean").getMethod("getCurrentThreadAllocatedBytes");
        int flags = 0;
        for (int i = 0; i < 20_000; i++) { // compiled, as on a server
            flags |= h.ssl().orElseThrow().clientFlags();
        }
        long before = (long) allocated.invoke(threads);
        for (int i = 0; i < 10_000; i++) {
            flags |= h.ssl().orElseThrow().clientFlags();
        }
        long bytes = (long) allocated.invoke(threads) - before;
        assertThat(flags).isEqualTo(0x07);
        assertThat(bytes).as("bytes allocated by 10,000 calls after the first").isLessThan(1024);
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

    /**
     * Each TLV is an object kept with the connection: a header of zero-length TLVs made a third of
     * its length in them (1,360 of a 4 KiB header; 21,000 of the largest). At most
     * {@link ProxyProtocol#MAX_TLVS} now, padding (NOOP, not kept) aside.
     */
    @Test
    void aV2HeaderMayCarryMaxTlvsAndNoMore() throws Exception {
        ProxyHeaders.V2 most = v2(CLIENT, FRONTEND);
        for (int i = 0; i < ProxyProtocol.MAX_TLVS; i++) {
            most.tlv(0xE0, new byte[0]);
        }
        for (int i = 0; i < 500; i++) {
            most.tlv(ProxyHeader.TYPE_NOOP, new byte[0]); // padding is not kept, so not counted
        }
        ProxyHeader h = parse(most.bytes());
        assertThat(h.tlvs()).hasSize(ProxyProtocol.MAX_TLVS).allMatch(t -> t.type() == 0xE0 && t.length() == 0);

        ProxyHeaders.V2 tooMany = v2(CLIENT, FRONTEND).tlv(ProxyHeader.TYPE_ALPN, "h2");
        for (int i = 0; i < ProxyProtocol.MAX_TLVS; i++) {
            tooMany.tlv(0x00, new byte[0]);
        }
        assertThatThrownBy(() -> parse(tooMany.bytes())).isInstanceOf(ProtocolException.class)
                .hasMessage("PROXY v2 header: more than " + ProxyProtocol.MAX_TLVS + " TLVs (ProxyProtocol.MAX_TLVS)");
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

    /** Any dotted quad written as the specification writes it is read; with a heading zero in any number, refused. */
    @Property(tries = 200, edgeCases = EdgeCasesMode.MIXIN)
    void v1Ipv4IsReadWithoutHeadingZeroesOnly(@ForAll @IntRange(max = 255) int a, @ForAll @IntRange(max = 255) int b,
                                             @ForAll @IntRange(max = 255) int c, @ForAll @IntRange(max = 255) int d,
                                             @ForAll @IntRange(max = 65535) int port, @ForAll @IntRange(max = 3) int padded)
            throws Exception {
        String text = a + "." + b + "." + c + "." + d;
        ProxyHeader h = parse(v1("PROXY TCP4 " + text + " 10.0.0.1 " + port + " 443"));
        assertThat(h.source()).contains(new InetSocketAddress(
                InetAddress.getByAddress(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d}), port));
        String[] parts = text.split("\\.");
        parts[padded] = "0" + parts[padded]; // 7 -> 07, 0 -> 00, 255 -> 0255
        String zeroed = String.join(".", parts);
        assertThatThrownBy(() -> parse(v1("PROXY TCP4 " + zeroed + " 10.0.0.1 " + port + " 443")))
                .as(zeroed).isInstanceOf(ProtocolException.class);
        assertThatThrownBy(() -> parse(v1("PROXY TCP4 " + text + " 10.0.0.1 0" + port + " 443")))
                .as("port 0%d", port).isInstanceOf(ProtocolException.class);
    }

    /**
     * Any 16 bytes, written as eight groups each padded to 1-4 hex digits, the longest run of zero
     * groups maybe as "::", the last 32 bits maybe as a dotted quad: read as those bytes (an
     * IPv4-mapped address as the JDK makes it, IPv4).
     */
    @Property(tries = 300, edgeCases = EdgeCasesMode.MIXIN)
    void v1Ipv6IsReadInEveryFormInetPtonTakes(@ForAll @Size(16) byte[] address, @ForAll @Size(8) byte[] pads,
                                              @ForAll boolean compress, @ForAll boolean v4Tail) throws Exception {
        if (address[0] == 0 && address[1] == 0) {
            address[2] = 0; // more zero runs than random bytes would make
        }
        int groups = v4Tail ? 6 : 8;
        String[] g = new String[groups];
        for (int i = 0; i < groups; i++) {
            String hex = Integer.toHexString((address[2 * i] & 0xFF) << 8 | address[2 * i + 1] & 0xFF);
            int width = Math.max(hex.length(), 1 + Math.floorMod(pads[i], 4));
            g[i] = "0".repeat(width - hex.length()) + hex;
        }
        String text = String.join(":", g);
        if (compress) {
            int bestFrom = -1;
            int bestLength = 0;
            for (int i = 0; i < groups; ) {
                int j = i;
                while (j < groups && Integer.parseInt(g[j], 16) == 0) {
                    j++;
                }
                if (j - i > bestLength) {
                    bestFrom = i;
                    bestLength = j - i;
                }
                i = Math.max(j, i + 1);
            }
            if (bestLength > 0) {
                String head = String.join(":", Arrays.copyOfRange(g, 0, bestFrom));
                String tail = String.join(":", Arrays.copyOfRange(g, bestFrom + bestLength, groups));
                text = head + "::" + tail;
            }
        }
        if (v4Tail) {
            String quad = (address[12] & 0xFF) + "." + (address[13] & 0xFF) + "." + (address[14] & 0xFF) + "."
                    + (address[15] & 0xFF);
            text = text.endsWith("::") ? text + quad : text + ":" + quad;
        }
        ProxyHeader h = parse(v1("PROXY TCP6 " + text + " ::1 1 2"));
        assertThat(h.source()).as(text).contains(new InetSocketAddress(InetAddress.getByAddress(address), 1));
    }

    /**
     * {@link InetPton} against the C library's own inet_pton (through python3's
     * {@code socket.inet_pton}): the same verdict and the same bytes for 10,000 strings run together
     * from pieces of addresses, good and bad ({@link #PIECES}), in both families.
     */
    @Test
    void inetPtonReadsAddressTextAsTheCLibrarysInetPtonDoes() throws Exception {
        java.util.Random random = new java.util.Random(7);
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 10_000; i++) {
            StringBuilder b = new StringBuilder();
            for (int j = 1 + random.nextInt(14); j > 0; j--) {
                b.append(PIECES.get(random.nextInt(PIECES.size())));
            }
            texts.add(b.toString());
        }
        String script = "import socket,sys\n"
                + "def pton(f,s):\n"
                + "    try: return socket.inet_pton(f,s).hex()\n"
                + "    except OSError: return '-'\n"
                + "for s in sys.stdin.read().split():\n"
                + "    print(pton(socket.AF_INET6,s), pton(socket.AF_INET,s))\n";
        Process p;
        try {
            p = new ProcessBuilder("python3", "-c", script).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        } catch (java.io.IOException notInstalled) {
            Assumptions.assumeTrue("true".equals(System.getenv("CI")), "python3 is not installed");
            throw notInstalled;
        }
        List<String> answers;
        try (ProcessWatchdog watchdog = ProcessWatchdog.watch(p, java.time.Duration.ofSeconds(20))) {
            p.getOutputStream().write(String.join("\n", texts).getBytes(StandardCharsets.US_ASCII));
            p.getOutputStream().close();
            answers = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).lines().toList();
            watchdog.assertNotFired("its output to end");
        } finally {
            p.destroyForcibly();
        }
        assertThat(answers).hasSameSizeAs(texts);
        List<String> disagreements = new ArrayList<>();
        int valid = 0;
        for (int i = 0; i < texts.size(); i++) {
            byte[] v6 = InetPton.ipv6(texts.get(i));
            byte[] v4 = InetPton.ipv4(texts.get(i));
            String ours = (v6 == null ? "-" : HexFormat.of().formatHex(v6)) + " " + (v4 == null ? "-" : HexFormat.of().formatHex(v4));
            if (!ours.equals(answers.get(i))) {
                disagreements.add(texts.get(i) + ": " + ours + ", inet_pton: " + answers.get(i));
            }
            valid += v6 != null || v4 != null ? 1 : 0;
        }
        assertThat(disagreements).isEmpty();
        assertThat(valid).as("addresses among them").isGreaterThan(100);
    }

    /** Whatever address text inet_pton's rules take, the JDK reads as the same address: they are only stricter. */
    @Property(tries = 1000)
    void whatInetPtonTakesTheJdkReadsAlike(@ForAll("addressText") String text) throws Exception {
        byte[] strict = InetPton.ipv6(text);
        if (strict != null) {
            assertThat(InetAddress.getByAddress(strict)).as(text).isEqualTo(InetAddress.getByName(text));
        }
        byte[] quad = InetPton.ipv4(text);
        if (quad != null) {
            assertThat(InetAddress.getByAddress(quad)).as(text).isEqualTo(InetAddress.getByName(text));
        }
    }

    /** Pieces of addresses, good and bad: groups of 1-5 hex digits, colons, dotted quads with and without heading zeroes. */
    private static final List<String> PIECES = List.of("0", "1", "2", "00", "a", "FF", "0db8", "ffff", "12345", ":", ":",
            "::", ".", "1.2.3.4", "010.0.0.1", "0.0.0.0", "255", "256", "07");

    /** {@link #PIECES} run together. */
    @Provide
    Arbitrary<String> addressText() {
        return Arbitraries.of(PIECES).list().ofMinSize(1).ofMaxSize(14).map(pieces -> String.join("", pieces));
    }
}
