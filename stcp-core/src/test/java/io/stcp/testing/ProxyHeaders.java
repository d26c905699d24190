package io.stcp.testing;

import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/** PROXY protocol headers for tests, well-formed or deliberately not. */
public final class ProxyHeaders {
    public static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

    private ProxyHeaders() {}

    /** A version 1 line, {@code text} followed by CRLF. */
    public static byte[] v1(String text) {
        return (text + "\r\n").getBytes(StandardCharsets.ISO_8859_1);
    }

    /** A version 1 TCP4 or TCP6 header for {@code src -> dst}. */
    public static byte[] v1(InetSocketAddress src, InetSocketAddress dst) {
        boolean v6 = src.getAddress().getAddress().length == 16;
        return v1("PROXY " + (v6 ? "TCP6 " : "TCP4 ") + src.getAddress().getHostAddress() + " "
                + dst.getAddress().getHostAddress() + " " + src.getPort() + " " + dst.getPort());
    }

    /** A version 2 PROXY header over TCP for {@code src -> dst}. */
    public static V2 v2(InetSocketAddress src, InetSocketAddress dst) {
        return new V2().proxy(src, dst);
    }

    /** A version 2 LOCAL header (a health check). */
    public static V2 v2Local() {
        return new V2();
    }

    /** Concatenates byte arrays. */
    public static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** A version 2 header under construction; every field can be set to something wrong. */
    public static final class V2 {
        private int verCmd = 0x20;     // version 2, LOCAL
        private int famProto = 0x00;   // UNSPEC, UNSPEC
        private byte[] addresses = new byte[0];
        private final ByteArrayOutputStream tlvs = new ByteArrayOutputStream();
        private int crcAt = -1;        // offset of the CRC32C value within tlvs
        private Integer length;        // announced length; null: the real one
        private boolean badCrc;

        V2 proxy(InetSocketAddress src, InetSocketAddress dst) {
            byte[] s = src.getAddress().getAddress();
            byte[] d = dst.getAddress().getAddress();
            verCmd = 0x21;
            famProto = s.length == 4 ? 0x11 : 0x21;
            addresses = ByteBuffer.allocate(2 * s.length + 4).put(s).put(d).putShort((short) src.getPort())
                    .putShort((short) dst.getPort()).array();
            return this;
        }

        public V2 verCmd(int v) {
            verCmd = v;
            return this;
        }

        public V2 famProto(int v) {
            famProto = v;
            return this;
        }

        public V2 addresses(byte[] a) {
            addresses = a;
            return this;
        }

        public V2 tlv(int type, byte[] value) {
            tlvs.write(type);
            tlvs.write(value.length >> 8);
            tlvs.write(value.length);
            tlvs.writeBytes(value);
            return this;
        }

        public V2 tlv(int type, String value) {
            return tlv(type, value.getBytes(StandardCharsets.UTF_8));
        }

        /** Appends raw bytes to the TLV area (to make it malformed). */
        public V2 raw(byte[] bytes) {
            tlvs.writeBytes(bytes);
            return this;
        }

        /** Adds a CRC32C TLV, computed at {@link #bytes()}; wrong on purpose if {@code correct} is false. */
        public V2 crc(boolean correct) {
            crcAt = tlvs.size() + 3;
            badCrc = !correct;
            return tlv(0x03, new byte[4]);
        }

        /** Announces {@code n} bytes after the fixed part, whatever follows. */
        public V2 length(int n) {
            length = n;
            return this;
        }

        public byte[] bytes() {
            byte[] t = tlvs.toByteArray();
            int len = addresses.length + t.length;
            ByteBuffer b = ByteBuffer.allocate(16 + len).put(V2_SIGNATURE).put((byte) verCmd).put((byte) famProto)
                    .putShort((short) (length != null ? length : len)).put(addresses).put(t);
            byte[] out = b.array();
            if (crcAt >= 0) {
                CRC32C crc = new CRC32C();
                crc.update(out);
                int at = 16 + addresses.length + crcAt;
                long v = crc.getValue() ^ (badCrc ? 1 : 0);
                out[at] = (byte) (v >> 24);
                out[at + 1] = (byte) (v >> 16);
                out[at + 2] = (byte) (v >> 8);
                out[at + 3] = (byte) v;
            }
            return out;
        }
    }
}
