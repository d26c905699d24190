package io.stcp.internal;

import io.stcp.ProxyHeader;
import io.stcp.ProxyHeader.Command;
import io.stcp.ProxyHeader.Tlv;
import io.stcp.ProxyProtocol;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProtocolException;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Recognizes and parses PROXY protocol headers from the first bytes of a connection. Pure
 * functions over a byte array; {@link ProxyProtocolLayer} does the reading.
 *
 * <p>Version 1, text, at most {@value #V1_MAX_LENGTH} bytes with the CRLF:
 * <pre>
 *   PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n
 *   PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n
 *   PROXY UNKNOWN[ anything]\r\n
 * </pre>
 * Version 2, binary:
 * <pre>
 *   +------------------------------+--------+--------+----------+--------------------+------+
 *   | signature (12 bytes)         | ver/cmd| fam/pr | len (BE) | addresses          | TLVs |
 *   | \r\n\r\n\0\r\nQUIT\n         | 0x2_   |        | 2 bytes  | 12 / 36 / 216 / 0  |      |
 *   +------------------------------+--------+--------+----------+--------------------+------+
 *   |&lt;------------------ 16 bytes -------------------------&gt;|&lt;------- len bytes ------&gt;|
 * </pre>
 * Everything is checked: the signature, version, command, family and protocol, that the addresses
 * fit in {@code len}, that every TLV fits in what is left, that there are at most
 * {@link ProxyProtocol#MAX_TLVS} of them (padding aside: each is an object kept with the
 * connection), and a CRC32C TLV's checksum. Address text in version 1 must be a literal address
 * of the named family as {@code inet_pton} reads it ({@link InetPton}: no heading zeroes in IPv4
 * numbers, which would otherwise read as decimal what a C parser may read as octal), and ports
 * have no heading zeroes either; nothing is ever looked up.
 */
final class ProxyHeaderParser {
    static final int V1_MAX_LENGTH = 107;
    static final int V2_FIXED_LENGTH = 16;
    private static final byte[] V1_SIGNATURE = "PROXY ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    private static final int AF_UNSPEC = 0;
    private static final int AF_INET = 1;
    private static final int AF_INET6 = 2;
    private static final int AF_UNIX = 3;
    private static final int PROTO_UNSPEC = 0;
    private static final int PROTO_DGRAM = 2;
    private static final int UNIX_PATH = 108;

    /** What the first bytes of a connection are. */
    enum Kind {
        /** Too few bytes to tell: they are a prefix of a signature. */
        NEED_MORE,
        /** Not a PROXY header. */
        NONE,
        V1,
        V2
    }

    private ProxyHeaderParser() {}

    /** What {@code b[0 .. n)} starts with. */
    static Kind detect(byte[] b, int n) {
        if (n == 0) {
            return Kind.NEED_MORE;
        }
        byte[] sig = b[0] == V1_SIGNATURE[0] ? V1_SIGNATURE : b[0] == V2_SIGNATURE[0] ? V2_SIGNATURE : null;
        if (sig == null) {
            return Kind.NONE;
        }
        int m = Math.min(n, sig.length);
        for (int i = 0; i < m; i++) {
            if (b[i] != sig[i]) {
                return Kind.NONE;
            }
        }
        if (m < sig.length) {
            return Kind.NEED_MORE;
        }
        return sig == V1_SIGNATURE ? Kind.V1 : Kind.V2;
    }

    /**
     * The length of a version 1 header through its CRLF, or -1 if {@code b[0 .. n)} does not hold
     * all of it yet.
     *
     * @throws ProtocolException if there is no CRLF within {@value #V1_MAX_LENGTH} bytes, or a
     *     line feed without a carriage return before it
     */
    static int v1Length(byte[] b, int n) throws ProtocolException {
        int m = Math.min(n, V1_MAX_LENGTH);
        for (int i = 0; i < m; i++) {
            if (b[i] == '\n') {
                if (i == 0 || b[i - 1] != '\r') {
                    throw new ProtocolException("PROXY v1 header: line feed without a carriage return");
                }
                return i + 1;
            }
        }
        if (n >= V1_MAX_LENGTH) {
            throw new ProtocolException("PROXY v1 header: no CRLF within " + V1_MAX_LENGTH + " bytes");
        }
        return -1;
    }

    /** The whole length of a version 2 header from its fixed part, {@code b[0 .. 16)}. */
    static int v2Length(byte[] b) {
        return V2_FIXED_LENGTH + (((b[14] & 0xFF) << 8) | (b[15] & 0xFF));
    }

    /** Parses the version 1 header {@code b[0 .. length)}, CRLF included. */
    static ProxyHeader parseV1(byte[] b, int length) throws ProtocolException {
        for (int i = 0; i < length - 2; i++) {
            if (b[i] < 0x20 || b[i] > 0x7E) {
                throw new ProtocolException("PROXY v1 header: a byte that is not printable ASCII");
            }
        }
        String line = new String(b, V1_SIGNATURE.length, length - 2 - V1_SIGNATURE.length, StandardCharsets.US_ASCII);
        if (line.equals("UNKNOWN") || line.startsWith("UNKNOWN ")) {
            return new ProxyHeader(1, Command.PROXY, null, null, List.of()); // a client of unknown address
        }
        String[] f = line.split(" ", -1);
        if (f.length != 5) {
            throw new ProtocolException("PROXY v1 header: expected \"TCP4|TCP6 source destination sourcePort"
                    + " destinationPort\", got \"" + line + "\"");
        }
        boolean v4 = f[0].equals("TCP4");
        if (!v4 && !f[0].equals("TCP6")) {
            throw new ProtocolException("PROXY v1 header: unknown protocol \"" + f[0] + "\" (expected TCP4, TCP6 or UNKNOWN)");
        }
        InetAddress src = v1Address(f[1], v4);
        InetAddress dst = v1Address(f[2], v4);
        return new ProxyHeader(1, Command.PROXY, new InetSocketAddress(src, v1Port(f[3])),
                new InetSocketAddress(dst, v1Port(f[4])), List.of());
    }

    /** An address by {@code inet_pton}'s rules ({@link InetPton}): no heading zeroes in IPv4 numbers. */
    private static InetAddress v1Address(String text, boolean v4) throws ProtocolException {
        byte[] a = v4 ? InetPton.ipv4(text) : InetPton.ipv6(text);
        if (a == null) {
            throw new ProtocolException("PROXY v1 header: \"" + text + "\" is not an " + (v4 ? "IPv4" : "IPv6")
                    + " address (" + (v4 ? "four numbers 0-255 without heading zeroes" : "as inet_pton reads one") + ")");
        }
        try {
            return InetAddress.getByAddress(a);
        } catch (UnknownHostException e) {
            throw new ProtocolException("PROXY v1 header: bad address \"" + text + "\"");
        }
    }

    /** A decimal 0..65535 without heading zeroes, as the specification writes ports. */
    private static int v1Port(String text) throws ProtocolException {
        if (text.isEmpty() || text.length() > 5 || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new ProtocolException("PROXY v1 header: port \"" + text + "\" is not a number");
        }
        if (text.length() > 1 && text.charAt(0) == '0') {
            throw new ProtocolException("PROXY v1 header: port \"" + text + "\" has a heading zero");
        }
        int port = Integer.parseInt(text);
        if (port > 65535) {
            throw new ProtocolException("PROXY v1 header: port " + port + " above 65535");
        }
        return port;
    }

    /** Parses the version 2 header {@code b[0 .. length)}, where {@code length} is {@link #v2Length}. */
    static ProxyHeader parseV2(byte[] b, int length) throws ProtocolException {
        int version = (b[12] & 0xF0) >> 4;
        int cmd = b[12] & 0x0F;
        if (version != 2) {
            throw new ProtocolException("PROXY v2 header: version " + version + " (expected 2)");
        }
        if (cmd > 1) {
            throw new ProtocolException("PROXY v2 header: command " + cmd + " (expected 0 LOCAL or 1 PROXY)");
        }
        int family = (b[13] & 0xF0) >> 4;
        int proto = b[13] & 0x0F;
        if (family > AF_UNIX || proto > PROTO_DGRAM) {
            throw new ProtocolException("PROXY v2 header: family/protocol 0x" + Integer.toHexString(b[13] & 0xFF)
                    + " (expected family 0-3, protocol 0-2)");
        }
        int addressLength = switch (family) {
            case AF_INET -> 12;
            case AF_INET6 -> 36;
            case AF_UNIX -> 2 * UNIX_PATH;
            default -> 0;
        };
        boolean local = cmd == 0;
        if (length - V2_FIXED_LENGTH < addressLength) {
            if (local) {
                // The specification has receivers accept a LOCAL header and discard its block,
                // "including the family which is ignored": a family whose addresses the block
                // does not hold is a health check all the same, with nothing else to read.
                return new ProxyHeader(2, Command.LOCAL, null, null, List.of());
            }
            throw new ProtocolException("PROXY v2 header: length " + (length - V2_FIXED_LENGTH)
                    + " too short for the addresses (" + addressLength + " bytes)");
        }
        if (!local && proto == PROTO_DGRAM) {
            throw new ProtocolException("PROXY v2 header: a datagram (UDP) header on a stream connection");
        }
        if (!local && (family == AF_UNSPEC) != (proto == PROTO_UNSPEC)) {
            // The specification lists UNSPEC with UNSPEC, or a family with a protocol, and has
            // receivers refuse every other pair.
            throw new ProtocolException("PROXY v2 header: family/protocol 0x" + Integer.toHexString(b[13] & 0xFF)
                    + " (a family needs a protocol, and an unspecified family an unspecified protocol)");
        }
        List<Tlv> tlvs = tlvs(b, V2_FIXED_LENGTH + addressLength, length);
        SocketAddress src = null;
        SocketAddress dst = null;
        if (!local) {
            int a = V2_FIXED_LENGTH;
            switch (family) {
                case AF_INET -> {
                    src = inet(b, a, 4, a + 8);
                    dst = inet(b, a + 4, 4, a + 10);
                }
                case AF_INET6 -> {
                    src = inet(b, a, 16, a + 32);
                    dst = inet(b, a + 16, 16, a + 34);
                }
                case AF_UNIX -> {
                    src = unix(b, a);
                    dst = unix(b, a + UNIX_PATH);
                    if (src == null || dst == null) {
                        src = dst = null; // unnamed or abstract: nothing the JDK can name
                    }
                }
                default -> {
                    // AF_UNSPEC: no addresses; the connection keeps the socket's
                }
            }
        }
        return new ProxyHeader(2, local ? Command.LOCAL : Command.PROXY, src, dst, tlvs);
    }

    private static List<Tlv> tlvs(byte[] b, int from, int end) throws ProtocolException {
        List<Tlv> tlvs = new ArrayList<>();
        int i = from;
        while (i < end) {
            if (end - i < 3) {
                throw new ProtocolException("PROXY v2 header: " + (end - i) + " stray bytes after the last TLV");
            }
            int type = b[i] & 0xFF;
            int len = ((b[i + 1] & 0xFF) << 8) | (b[i + 2] & 0xFF);
            if (end - i - 3 < len) {
                throw new ProtocolException("PROXY v2 header: TLV 0x" + Integer.toHexString(type) + " of " + len
                        + " bytes overruns the header by " + (len - (end - i - 3)) + " bytes");
            }
            if (type == ProxyHeader.TYPE_CRC32C) {
                checkCrc(b, end, i + 3, len);
            }
            if (type != ProxyHeader.TYPE_NOOP) {
                if (tlvs.size() == ProxyProtocol.MAX_TLVS) {
                    throw new ProtocolException("PROXY v2 header: more than " + ProxyProtocol.MAX_TLVS
                            + " TLVs (ProxyProtocol.MAX_TLVS)");
                }
                tlvs.add(new Tlv(type, Arrays.copyOfRange(b, i + 3, i + 3 + len)));
            }
            i += 3 + len;
        }
        return tlvs;
    }

    /** The CRC32C of the whole header, computed with the checksum's own 4 bytes as zeros. */
    private static void checkCrc(byte[] b, int length, int at, int len) throws ProtocolException {
        if (len != 4) {
            throw new ProtocolException("PROXY v2 header: CRC32C TLV of " + len + " bytes (expected 4)");
        }
        CRC32C crc = new CRC32C();
        crc.update(b, 0, at);
        crc.update(new byte[4]);
        crc.update(b, at + 4, length - at - 4);
        long sent = ((b[at] & 0xFFL) << 24) | ((b[at + 1] & 0xFF) << 16) | ((b[at + 2] & 0xFF) << 8) | (b[at + 3] & 0xFF);
        if (crc.getValue() != sent) {
            throw new ProtocolException("PROXY v2 header: CRC32C mismatch");
        }
    }

    private static InetSocketAddress inet(byte[] b, int at, int size, int portAt) throws ProtocolException {
        try {
            InetAddress a = InetAddress.getByAddress(Arrays.copyOfRange(b, at, at + size));
            return new InetSocketAddress(a, ((b[portAt] & 0xFF) << 8) | (b[portAt + 1] & 0xFF));
        } catch (UnknownHostException e) {
            throw new ProtocolException("PROXY v2 header: bad address");
        }
    }

    /** A NUL-terminated path of at most 108 bytes; null when empty or abstract (leading NUL). */
    private static SocketAddress unix(byte[] b, int at) {
        int end = at;
        while (end < at + UNIX_PATH && b[end] != 0) {
            end++;
        }
        if (end == at) {
            return null;
        }
        try {
            return UnixDomainSocketAddress.of(new String(b, at, end - at, StandardCharsets.UTF_8));
        } catch (RuntimeException e) {
            return null;
        }
    }
}
