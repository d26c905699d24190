package io.stcp;

import io.stcp.internal.Cidr;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Whether a server expects a PROXY protocol header (version 1 or 2) ahead of each connection, as
 * HAProxy ({@code send-proxy}, {@code send-proxy-v2}), nginx ({@code proxy_protocol on}) and the
 * cloud L4 balancers send it, and whom it believes. Part of {@link ServerConfig}.
 *
 * <p>With a header, the connection's {@link Connection#remoteAddress()}, its default
 * {@link MetaInfo} and so every log line, and the per-address limits of {@link IpLimits} see the
 * client; {@link Connection#proxiedBy()} is the proxy and {@link Connection#proxyHeader()} the
 * header, TLVs included. The header is read on the connection's own thread before the sender
 * factory and the start hooks run, so they already see the client.
 *
 * <p><b>Trust.</b> Anyone who can reach the port could send a header naming any address, so only
 * peers in {@link #trustedProxies()} may send one. In {@link Mode#REQUIRED} mode any other peer
 * is refused at accept ({@link RejectReason#PROXY_UNTRUSTED}), before a thread or a buffer is
 * spent on it. In {@link Mode#OPTIONAL} mode other peers are served as direct clients, but one
 * that sends a header is refused all the same. On a Unix socket every peer is trusted: the socket
 * file's permissions decide who may connect.
 *
 * <p><b>Bounds.</b> The header must be complete within {@link #headerTimeout()} of the accept
 * (and within {@link ServerConfig#firstFrameTimeout()} when that is shorter), and a version 2
 * header may not announce more than {@link #maxHeaderLength()} bytes: its length field is the
 * peer's claim, refused before anything is allocated for it; and it may carry at most
 * {@value #MAX_TLVS} TLVs ({@code PP2_TYPE_NOOP} padding not counted), so that a header of many
 * short TLVs makes no more than that many objects. A version 1 header's addresses and ports are
 * read as {@code inet_pton} reads them, without heading zeroes ({@code 010.0.0.1} is refused,
 * not read as 10.0.0.1). A header that is malformed, truncated (a connection broken inside it
 * too), too long, late, or missing where required closes the connection, is counted
 * ({@link TcpServer#rejectedCount(RejectReason)}) and logged at WARN ({@code server.reject}) at
 * most once per 10 s per reason with the number held back. No hook runs for it.
 *
 * <p>A connection holds its {@link ServerConfig#maxConn()} slot from the accept, while its header
 * is read too; {@link TcpServer#acceptedCount()} counts it once the header shows a client, and
 * {@link ServerStats#closed()} counts its end then only: a refused connection or a health check is
 * in neither. In {@link Mode#OPTIONAL} mode a peer that closes or resets before its first byte is
 * a direct client that left: accepted, and ended as {@link CloseReason#PEER_CLOSED} or
 * {@link CloseReason#PEER_RESET}.
 *
 * <p><b>Health checks.</b> A header by which the proxy speaks for itself is a health check: a
 * LOCAL header (version 2), or a version 1 header whose client is the connection's own source,
 * address and port — what HAProxy's checks send with {@code send-proxy}, since version 1 has no
 * LOCAL (a relayed client can never have the proxy's own outgoing address and port). The
 * connection is closed as soon as the header is read — neither the sender factory, the hooks nor
 * the reader run — and it is counted in {@link TcpServer#healthCheckCount()}, not as a client
 * (nor logged: no {@code conn.exit} line, no {@code stcp.ConnectionExit} event).
 * That answers HAProxy's {@code check}, and {@code option tcp-check} without send/expect rules,
 * which pass once the connection is accepted; a check that expects the application to answer
 * needs a port without the PROXY protocol. In {@link Mode#REQUIRED} mode a trusted proxy that
 * connects and closes before sending a byte (a plain TCP check), with a FIN or a reset, is a
 * health check too, not a refusal ({@link RejectReason#PROXY_HEADER_MISSING}) nor a connection
 * that ended ({@link CloseReason#PEER_RESET}).
 *
 * @param mode            off (the default), required, or optional (a header, or the peer's own bytes)
 * @param trustedProxies  networks whose peers may send a header, in CIDR notation
 *                        ({@code 10.0.0.0/8}, {@code 2001:db8::/32}, {@code 127.0.0.1}); at least
 *                        one unless the mode is off, and none when it is. Literal addresses only,
 *                        never host names.
 * @param headerTimeout   time from accept to a complete header. Default 5s; zero or negative means
 *                        no limit (then only {@link ServerConfig#firstFrameTimeout()} bounds it).
 *                        In optional mode, a peer that sends nothing at all in this time is taken
 *                        to have no header, so a protocol where the server speaks first waits this
 *                        long before it does: prefer required mode.
 * @param maxHeaderLength the largest version 2 header accepted, in bytes, fixed part and TLVs
 *                        included. Default {@value #DEFAULT_MAX_HEADER_LENGTH}; from
 *                        {@value #MIN_HEADER_LENGTH} (the longest header without TLVs) to
 *                        {@value #MAX_HEADER_LENGTH} (the longest the format allows). Version 1
 *                        headers are at most 107 bytes by definition.
 *
 * <p>With the mode off nothing else may be set: a list of trusted proxies, a header timeout or a
 * length other than the defaults is refused ({@link IllegalArgumentException} naming it) rather
 * than accepted and never used.
 */
public record ProxyProtocol(Mode mode, List<String> trustedProxies, Duration headerTimeout, int maxHeaderLength) {

    /** Whether a header is expected. */
    public enum Mode {
        /** No header is read: the socket's peer is the client. */
        OFF,
        /** Every connection starts with a header from a trusted proxy; anything else is refused. */
        REQUIRED,
        /**
         * A header may come, from a trusted proxy; a connection whose first bytes are not a header
         * is served as a direct client (detection waits for the first bytes, see
         * {@link ProxyProtocol#headerTimeout()}). First bytes that could still begin a signature
         * (an empty line {@code \r\n}, a lone {@code P}) are not yet a decision: a direct client
         * that sends only those and then waits for an answer is refused at the header timeout
         * ({@link RejectReason#PROXY_HEADER_TIMEOUT}). For migrations, and a port shared by
         * proxied and direct clients.
         */
        OPTIONAL
    }

    /** Default header timeout: 5s. */
    public static final Duration DEFAULT_HEADER_TIMEOUT = Duration.ofSeconds(5);
    /** Default bound of a version 2 header: 4096 bytes, room for every TLV HAProxy sends. */
    public static final int DEFAULT_MAX_HEADER_LENGTH = 4096;
    /** The smallest bound allowed: 16 fixed bytes and the 216 bytes of two Unix paths. */
    public static final int MIN_HEADER_LENGTH = 232;
    /** The largest version 2 header there can be: 16 fixed bytes and a length of 65535. */
    public static final int MAX_HEADER_LENGTH = 16 + 65535;
    /**
     * The most TLVs a version 2 header may carry, {@code PP2_TYPE_NOOP} padding not counted: a
     * header with more is refused ({@link RejectReason#PROXY_HEADER_INVALID}). HAProxy sends a
     * handful (ALPN, authority, CRC32C, unique id, SSL, netns, and those its configuration adds);
     * a cloud balancer one or two. Without it a header of zero-length TLVs would make a third of
     * its length in objects.
     */
    public static final int MAX_TLVS = 64;

    private static final ProxyProtocol OFF = new ProxyProtocol(Mode.OFF, List.of(), DEFAULT_HEADER_TIMEOUT,
            DEFAULT_MAX_HEADER_LENGTH);

    /** Validates; messages name the field and the bad value. */
    public ProxyProtocol {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(headerTimeout, "headerTimeout");
        trustedProxies = List.copyOf(trustedProxies);
        for (String t : trustedProxies) {
            try {
                Cidr.parse(t);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("trustedProxies: " + e.getMessage());
            }
        }
        if (mode != Mode.OFF && trustedProxies.isEmpty()) {
            throw new IllegalArgumentException("trustedProxies: empty (expected: at least one network when the"
                    + " PROXY protocol is " + mode + "; 0.0.0.0/0 and ::/0 trust everyone)");
        }
        if (headerTimeout.isNegative()) {
            headerTimeout = Duration.ZERO;
        }
        if (maxHeaderLength < MIN_HEADER_LENGTH || maxHeaderLength > MAX_HEADER_LENGTH) {
            throw new IllegalArgumentException("maxHeaderLength: " + maxHeaderLength + " (expected: "
                    + MIN_HEADER_LENGTH + ".." + MAX_HEADER_LENGTH + ")");
        }
        if (mode == Mode.OFF) {
            // no header is read: a setting of one would be accepted and do nothing
            if (!trustedProxies.isEmpty()) {
                throw new IllegalArgumentException("trustedProxies: " + trustedProxies + " while the mode is OFF"
                        + " (expected: none; no header is read, so nobody is trusted to send one: set the mode"
                        + " to REQUIRED or OPTIONAL)");
            }
            if (!headerTimeout.equals(DEFAULT_HEADER_TIMEOUT)) {
                throw new IllegalArgumentException("headerTimeout: " + Durations.format(headerTimeout)
                        + " while the mode is OFF (expected: the default " + Durations.format(DEFAULT_HEADER_TIMEOUT)
                        + "; no header is read)");
            }
            if (maxHeaderLength != DEFAULT_MAX_HEADER_LENGTH) {
                throw new IllegalArgumentException("maxHeaderLength: " + maxHeaderLength + " while the mode is OFF"
                        + " (expected: the default " + DEFAULT_MAX_HEADER_LENGTH + "; no header is read)");
            }
        }
    }

    /** No PROXY protocol: the default. */
    public static ProxyProtocol off() {
        return OFF;
    }

    /** Every connection must start with a header from one of {@code trustedProxies} (CIDR). */
    public static ProxyProtocol required(String... trustedProxies) {
        return new ProxyProtocol(Mode.REQUIRED, List.of(trustedProxies), DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_HEADER_LENGTH);
    }

    /** A connection may start with a header from one of {@code trustedProxies} (CIDR). */
    public static ProxyProtocol optional(String... trustedProxies) {
        return new ProxyProtocol(Mode.OPTIONAL, List.of(trustedProxies), DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_HEADER_LENGTH);
    }

    /** This setting with another {@link #headerTimeout()}. */
    public ProxyProtocol withHeaderTimeout(Duration timeout) {
        return new ProxyProtocol(mode, trustedProxies, timeout, maxHeaderLength);
    }

    /** This setting with another {@link #maxHeaderLength()}. */
    public ProxyProtocol withMaxHeaderLength(int bytes) {
        return new ProxyProtocol(mode, trustedProxies, headerTimeout, bytes);
    }

    /** Whether headers are read at all (the mode is not {@link Mode#OFF}). */
    public boolean isEnabled() {
        return mode != Mode.OFF;
    }
}
