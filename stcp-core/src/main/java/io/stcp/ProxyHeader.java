package io.stcp;

import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A PROXY protocol header (version 1 or 2, see
 * <a href="https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt">the specification</a>)
 * that a trusted proxy sent ahead of a connection: who the client is, what address it connected
 * to, and, in version 2, the proxy's TLVs (type-length-value fields). A connection that arrived
 * with one has it in {@link Connection#proxyHeader()}; its {@link Connection#remoteAddress()} is
 * then the client's address and {@link Connection#proxiedBy()} the proxy's.
 *
 * <p>Command: {@link Command#PROXY} carries a client; {@link Command#LOCAL} (version 2 only) is a
 * connection the proxy made itself, a health check. A PROXY header without addresses (version 1's
 * {@code PROXY UNKNOWN}, version 2's unspecified family) is a client whose address the proxy did
 * not know: the connection keeps the socket's addresses.
 *
 * <p>Immutable and thread-safe. {@link #ssl()} parses the SSL TLV at its first call, once, and
 * returns that same {@link Ssl} from then on, to any thread.
 */
public final class ProxyHeader {

    /** What the proxy says the connection is. */
    public enum Command {
        /** A client's connection relayed by the proxy: the header names its addresses. */
        PROXY,
        /** The proxy's own connection (a health check): no client, no addresses. Version 2 only. */
        LOCAL
    }

    /** PP2_TYPE_ALPN: the application protocol the client negotiated (e.g. {@code h2}). */
    public static final int TYPE_ALPN = 0x01;
    /** PP2_TYPE_AUTHORITY: the host name the client asked for (TLS SNI or the Host header). */
    public static final int TYPE_AUTHORITY = 0x02;
    /** PP2_TYPE_CRC32C: a checksum of the whole header; stcp checks it when present. */
    public static final int TYPE_CRC32C = 0x03;
    /** PP2_TYPE_NOOP: padding, ignored. */
    public static final int TYPE_NOOP = 0x04;
    /** PP2_TYPE_UNIQUE_ID: an opaque id of the connection, at most 128 bytes (HAProxy's {@code unique-id}). */
    public static final int TYPE_UNIQUE_ID = 0x05;
    /** PP2_TYPE_SSL: how the client reached the proxy over TLS; see {@link Ssl}. */
    public static final int TYPE_SSL = 0x20;
    /** PP2_TYPE_NETNS: the network namespace the proxy accepted the client in. */
    public static final int TYPE_NETNS = 0x30;

    private final int version;
    private final Command command;
    private final SocketAddress source;
    private final SocketAddress destination;
    private final List<Tlv> tlvs;
    /** What {@link #ssl()} returns: null until its first call, which parses it under this header's monitor. */
    private volatile @org.jspecify.annotations.Nullable Optional<Ssl> ssl;

    /**
     * A header as a parser produced it (or a test builds it).
     *
     * @param version 1 or 2
     * @param command PROXY or LOCAL
     * @param source the client's address, or null when the header has none (LOCAL, unknown family)
     * @param destination the address the client connected to, or null with {@code source}
     * @param tlvs the version 2 TLVs in the order received (empty for version 1)
     * @throws IllegalArgumentException if the version is not 1 or 2, or version 1 has TLVs
     */
    public ProxyHeader(int version, Command command, @org.jspecify.annotations.Nullable SocketAddress source,
                       @org.jspecify.annotations.Nullable SocketAddress destination, List<Tlv> tlvs) {
        if (version != 1 && version != 2) {
            throw new IllegalArgumentException("version: " + version + " (expected: 1 or 2)");
        }
        if (version == 1 && !tlvs.isEmpty()) {
            throw new IllegalArgumentException("tlvs: " + tlvs.size() + " (expected: none in version 1)");
        }
        this.version = version;
        this.command = Objects.requireNonNull(command, "command");
        this.source = command == Command.LOCAL ? null : source;
        this.destination = command == Command.LOCAL ? null : destination;
        this.tlvs = List.copyOf(tlvs);
    }

    /** 1 (the text form) or 2 (the binary form). */
    public int version() {
        return version;
    }

    /** PROXY (a client) or LOCAL (the proxy's own connection, a health check). */
    public Command command() {
        return command;
    }

    /** Whether this is the proxy's own connection (a health check) rather than a client's. */
    public boolean isLocal() {
        return command == Command.LOCAL;
    }

    /**
     * The client's address: an {@link java.net.InetSocketAddress} for TCP over IPv4 or IPv6, a
     * {@link java.net.UnixDomainSocketAddress} for a client on the proxy's Unix socket; empty for
     * LOCAL and when the proxy did not know it (version 1's {@code UNKNOWN}, version 2's unspecified
     * family).
     */
    public Optional<SocketAddress> source() {
        return Optional.ofNullable(source);
    }

    /** The address the client connected to (the proxy's frontend); empty whenever {@link #source()} is. */
    public Optional<SocketAddress> destination() {
        return Optional.ofNullable(destination);
    }

    /** Every TLV of a version 2 header, in the order received, unknown types included; empty for version 1. */
    public List<Tlv> tlvs() {
        return tlvs;
    }

    /** The value of the first TLV of {@code type}, if there is one. */
    public Optional<Tlv> tlv(int type) {
        for (Tlv t : tlvs) {
            if (t.type() == type) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** The application protocol the client negotiated with the proxy (ALPN, e.g. {@code h2}), if sent. */
    public Optional<String> alpn() {
        return tlv(TYPE_ALPN).map(t -> t.text(StandardCharsets.ISO_8859_1));
    }

    /** The host name the client asked for (TLS SNI or the HTTP Host), if sent. */
    public Optional<String> authority() {
        return tlv(TYPE_AUTHORITY).map(t -> t.text(StandardCharsets.UTF_8));
    }

    /** The proxy's unique id of this connection, if sent (a copy). */
    public Optional<byte[]> uniqueId() {
        return tlv(TYPE_UNIQUE_ID).map(Tlv::value);
    }

    /** The network namespace the proxy accepted the client in, if sent. */
    public Optional<String> netns() {
        return tlv(TYPE_NETNS).map(t -> t.text(StandardCharsets.US_ASCII));
    }

    /**
     * How the client reached the proxy over TLS, if the proxy said (PP2_TYPE_SSL): parsed from the
     * first SSL TLV at the first call, and the same {@link Ssl} (immutable) returned at every call
     * after; empty if there is none, or it is malformed.
     */
    public Optional<Ssl> ssl() {
        Optional<Ssl> s = ssl;
        return s != null ? s : parseSsl();
    }

    /** {@link #ssl()}'s first call: parses it once, whichever threads ask at the same time. */
    private synchronized Optional<Ssl> parseSsl() {
        Optional<Ssl> s = ssl;
        if (s == null) {
            s = tlv(TYPE_SSL).flatMap(Ssl::parse);
            ssl = s;
        }
        return s;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ProxyHeader h && version == h.version && command == h.command
                && Objects.equals(source, h.source) && Objects.equals(destination, h.destination) && tlvs.equals(h.tlvs);
    }

    @Override
    public int hashCode() {
        return Objects.hash(version, command, source, destination, tlvs);
    }

    @Override
    public String toString() {
        return "ProxyHeader[v" + version + " " + command + (source == null ? "" : " " + source + " -> " + destination)
                + (tlvs.isEmpty() ? "" : " " + tlvs) + "]";
    }

    /**
     * One TLV of a version 2 header.
     *
     * @param type 0..255
     * @param value the value's bytes (copied in and out)
     */
    public record Tlv(int type, byte[] value) {
        /** Copies {@code value}; rejects a type outside 0..255 or a value longer than 65535 bytes. */
        public Tlv {
            if (type < 0 || type > 255) {
                throw new IllegalArgumentException("type: " + type + " (expected: 0..255)");
            }
            if (value.length > 65535) {
                throw new IllegalArgumentException("value: " + value.length + " bytes (expected: <= 65535)");
            }
            value = value.clone();
        }

        /** A copy of the value. */
        @Override
        public byte[] value() {
            return value.clone();
        }

        /** The value's length in bytes. */
        public int length() {
            return value.length;
        }

        /** The value decoded as text in {@code charset}. */
        public String text(java.nio.charset.Charset charset) {
            return new String(value, charset);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Tlv t && type == t.type && Arrays.equals(value, t.value);
        }

        @Override
        public int hashCode() {
            return 31 * type + Arrays.hashCode(value);
        }

        @Override
        public String toString() {
            return "Tlv[0x" + Integer.toHexString(type) + ", " + value.length + " bytes]";
        }
    }

    /**
     * The PP2_TYPE_SSL TLV: whether and how the client used TLS to reach the proxy.
     *
     * <pre>
     *   client (1 byte: flags) | verify (4 bytes, 0 = the client's certificate was verified) | sub-TLVs
     * </pre>
     */
    public static final class Ssl {
        /** PP2_CLIENT_SSL: the client connected over TLS. */
        public static final int CLIENT_SSL = 0x01;
        /** PP2_CLIENT_CERT_CONN: the client sent a certificate on this connection. */
        public static final int CLIENT_CERT_CONN = 0x02;
        /** PP2_CLIENT_CERT_SESS: the client sent a certificate at least once in this TLS session. */
        public static final int CLIENT_CERT_SESS = 0x04;
        /** PP2_SUBTYPE_SSL_VERSION: e.g. {@code TLSv1.3}. */
        public static final int SUBTYPE_VERSION = 0x21;
        /** PP2_SUBTYPE_SSL_CN: the Common Name of the client certificate's subject. */
        public static final int SUBTYPE_CN = 0x22;
        /** PP2_SUBTYPE_SSL_CIPHER: e.g. {@code TLS_AES_128_GCM_SHA256}. */
        public static final int SUBTYPE_CIPHER = 0x23;
        /** PP2_SUBTYPE_SSL_SIG_ALG: the client certificate's signature algorithm. */
        public static final int SUBTYPE_SIG_ALG = 0x24;
        /** PP2_SUBTYPE_SSL_KEY_ALG: the client certificate's key algorithm. */
        public static final int SUBTYPE_KEY_ALG = 0x25;

        private final int client;
        private final long verify;
        private final List<Tlv> tlvs;

        private Ssl(int client, long verify, List<Tlv> tlvs) {
            this.client = client;
            this.verify = verify;
            this.tlvs = List.copyOf(tlvs);
        }

        /** The TLV's value as an {@code Ssl}, or empty if it is too short or its sub-TLVs overrun it. */
        static Optional<Ssl> parse(Tlv tlv) {
            byte[] v = tlv.value;
            if (v.length < 5) {
                return Optional.empty();
            }
            long verify = ((v[1] & 0xFFL) << 24) | ((v[2] & 0xFF) << 16) | ((v[3] & 0xFF) << 8) | (v[4] & 0xFF);
            List<Tlv> sub = new java.util.ArrayList<>();
            int i = 5;
            while (i < v.length) {
                if (v.length - i < 3) {
                    return Optional.empty();
                }
                int len = ((v[i + 1] & 0xFF) << 8) | (v[i + 2] & 0xFF);
                if (v.length - i - 3 < len) {
                    return Optional.empty();
                }
                sub.add(new Tlv(v[i] & 0xFF, Arrays.copyOfRange(v, i + 3, i + 3 + len)));
                i += 3 + len;
            }
            return Optional.of(new Ssl(v[0] & 0xFF, verify, sub));
        }

        /** The client flags: {@link #CLIENT_SSL}, {@link #CLIENT_CERT_CONN}, {@link #CLIENT_CERT_SESS}. */
        public int clientFlags() {
            return client;
        }

        /** Whether the client connected to the proxy over TLS. */
        public boolean isTls() {
            return (client & CLIENT_SSL) != 0;
        }

        /** Whether the client presented a certificate on this connection. */
        public boolean hasClientCertificate() {
            return (client & CLIENT_CERT_CONN) != 0;
        }

        /**
         * The verify field: 0 if the client presented a certificate and it was verified. HAProxy
         * also sends 0 when the client presented none (it sets the field only for a certificate),
         * so 0 alone proves nothing: see {@link #isVerified()}.
         */
        public long verifyResult() {
            return verify;
        }

        /**
         * Whether the client presented a certificate in this TLS session ({@link #CLIENT_CERT_SESS}
         * or {@link #CLIENT_CERT_CONN}) and it was verified ({@link #verifyResult()} is 0). False for
         * a client without a certificate, whatever the verify field says.
         */
        public boolean isVerified() {
            return (client & (CLIENT_CERT_CONN | CLIENT_CERT_SESS)) != 0 && verify == 0;
        }

        /** The TLS version, e.g. {@code TLSv1.3}, if sent. */
        public Optional<String> version() {
            return text(SUBTYPE_VERSION);
        }

        /** The client certificate's subject Common Name, if sent. */
        public Optional<String> commonName() {
            return text(SUBTYPE_CN);
        }

        /** The cipher suite, if sent. */
        public Optional<String> cipher() {
            return text(SUBTYPE_CIPHER);
        }

        /** The client certificate's signature algorithm, if sent. */
        public Optional<String> signatureAlgorithm() {
            return text(SUBTYPE_SIG_ALG);
        }

        /** The client certificate's key algorithm, if sent. */
        public Optional<String> keyAlgorithm() {
            return text(SUBTYPE_KEY_ALG);
        }

        /** Every sub-TLV, in the order received. */
        public List<Tlv> tlvs() {
            return tlvs;
        }

        private Optional<String> text(int type) {
            for (Tlv t : tlvs) {
                if (t.type() == type) {
                    return Optional.of(t.text(StandardCharsets.UTF_8));
                }
            }
            return Optional.empty();
        }

        @Override
        public String toString() {
            return "Ssl[client=0x" + Integer.toHexString(client) + ", verify=" + verify + ", " + tlvs + "]";
        }
    }
}
