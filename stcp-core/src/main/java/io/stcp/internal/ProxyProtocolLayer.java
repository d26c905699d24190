package io.stcp.internal;

import io.stcp.CloseReason;
import io.stcp.ProxyHeader;
import io.stcp.ProxyProtocol;
import io.stcp.ReadTimeoutException;
import io.stcp.RejectReason;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProtocolException;
import java.net.SocketAddress;
import java.util.Arrays;
import java.util.List;

/**
 * The PROXY protocol as a {@link TransportLayer}, the first one over the socket: reads the header
 * a trusted proxy sends, tells the connection who the client is, and hands the bytes it read past
 * the header to the layer above through a {@link PrefixTransport}.
 *
 * <pre>
 *   first bytes ──▶ detect ──┬─ "PROXY " ──▶ read to CRLF (≤ 107 bytes) ──▶ parse v1 ─┐
 *                            ├─ \r\n\r\n\0\r\nQUIT\n ──▶ 16 bytes, length ≤ bound ──▶ parse v2 ─┤
 *                            └─ anything else: no header (optional mode) or refused     │
 *        health check (LOCAL, or v1 naming the proxy itself): closed ◀── trusted peer? else refused ◀┘
 *        (also a trusted proxy that closes or resets before its first byte where a header is required)
 *        PROXY: remoteAddress = client, per-address limits, go on with the rest
 * </pre>
 *
 * <p>Runs on the connection's thread, before the sender factory and the hooks. Every read waits
 * at most until the header deadline (header timeout from accept, or the first-frame deadline if
 * sooner). At most {@value #BUFFER} bytes are read before the kind of header is known, and a
 * version 2 header's buffer is allocated only after its announced length has been checked
 * against the bound. Refusals are counted and logged through {@link Server}, and end the
 * connection with {@link CloseReason#REJECTED}; a health check ends it with
 * {@link CloseReason#CLOSED}. Neither runs a hook, and the server counts neither as a connection
 * that ended: it counts the end of a connection it counted accepted ({@link Server#admitClient}),
 * and only that.
 */
final class ProxyProtocolLayer implements TransportLayer {
    /** The first read's buffer: a whole version 1 header, or a version 2 one without large TLVs. */
    static final int BUFFER = 256;

    /** What the layer tells its server. */
    interface Server {
        /**
         * A client's connection passed the header checks: count it, and apply the per-address
         * limits to {@code address} unless it is null (a direct client, limited at accept).
         *
         * @return null if admitted, else why not (counted and logged already)
         */
        RejectReason admitClient(RealConnection connection, InetAddress address);

        /**
         * A header passed the checks but named no IP address (v1 {@code UNKNOWN}, a v2 unspecified
         * family or Unix socket): count the client, unless the per-address limits admit only
         * listed networks, which it cannot be shown to be in.
         *
         * @return null if admitted, else why not (counted and logged already)
         */
        RejectReason admitUnknownClient(RealConnection connection);

        /** A health check's header was read: not a client. */
        void healthCheck();

        /** Counts and logs a refusal. */
        void rejected(RejectReason reason, SocketAddress remote, String detail);
    }

    private final ProxyProtocol.Mode mode;
    private final List<Cidr> trusted;
    private final long headerTimeoutNanos;
    private final int maxHeaderLength;
    private final Server server;

    ProxyProtocolLayer(ProxyProtocol config, Server server) {
        this.mode = config.mode();
        this.trusted = Cidr.parseAll(config.trustedProxies());
        this.headerTimeoutNanos = Nanos.timeout(config.headerTimeout());
        this.maxHeaderLength = config.maxHeaderLength();
        this.server = server;
    }

    /** Whether {@code peer} may send a header: an address in {@code trusted}, or any Unix socket peer. */
    static boolean trusts(List<Cidr> trusted, SocketAddress peer) {
        if (peer instanceof InetSocketAddress inet) {
            return inet.getAddress() != null && Cidr.anyContains(trusted, inet.getAddress());
        }
        return true; // a Unix socket: its file's permissions decide who may connect
    }

    @Override
    public Transport open(Transport under, RealConnection connection, long deadlineNanos) throws IOException {
        SocketAddress peer = connection.remoteAddress();
        boolean fromProxy = trusts(trusted, peer);
        long deadline = Nanos.earliest(deadlineNanos, Nanos.deadline(System.nanoTime(), headerTimeoutNanos));
        byte[] buf = new byte[BUFFER];
        int n = 0;
        ProxyHeaderParser.Kind kind;
        try {
            while ((kind = ProxyHeaderParser.detect(buf, n)) == ProxyHeaderParser.Kind.NEED_MORE) {
                int r;
                try {
                    r = under.read(buf, n, buf.length - n, deadline);
                } catch (IOException e) { // a timeout is no broken connection: the catch below takes it
                    throw broken(e, n, fromProxy, connection, peer);
                }
                if (r < 0) {
                    if (n == 0 && mode == ProxyProtocol.Mode.OPTIONAL) {
                        kind = ProxyHeaderParser.Kind.NONE; // closed at once: the reader sees the end
                        break;
                    }
                    if (n == 0 && fromProxy) {
                        throw healthCheck(connection); // a TCP check: the proxy connected and closed
                    }
                    throw refuse(connection, n == 0 ? RejectReason.PROXY_HEADER_MISSING : RejectReason.PROXY_HEADER_INVALID,
                            peer, "end of stream after " + n + " bytes, before a PROXY header");
                }
                n += r;
            }
        } catch (ReadTimeoutException e) {
            if (n > 0 || mode == ProxyProtocol.Mode.REQUIRED) {
                throw refuse(connection, RejectReason.PROXY_HEADER_TIMEOUT, peer, "no complete PROXY header in time ("
                        + n + " bytes)");
            }
            kind = ProxyHeaderParser.Kind.NONE; // optional, and the peer said nothing: no header
        }
        if (kind == ProxyHeaderParser.Kind.NONE) {
            if (mode == ProxyProtocol.Mode.REQUIRED) {
                throw refuse(connection, RejectReason.PROXY_HEADER_MISSING, peer, "the connection did not start with a"
                        + " PROXY header");
            }
            // a direct client; others were checked at accept
            admit(connection, server.admitClient(connection, fromProxy ? addressOf(peer) : null));
            return PrefixTransport.of(under, buf, 0, n);
        }
        if (!fromProxy) {
            throw refuse(connection, RejectReason.PROXY_UNTRUSTED, peer, "a PROXY header from a peer outside the"
                    + " trusted proxies");
        }
        ProxyHeader header;
        int length;
        try {
            if (kind == ProxyHeaderParser.Kind.V1) {
                while ((length = ProxyHeaderParser.v1Length(buf, n)) < 0) {
                    n = fill(under, buf, n, deadline, connection, peer);
                }
                header = ProxyHeaderParser.parseV1(buf, length);
            } else {
                while (n < ProxyHeaderParser.V2_FIXED_LENGTH) {
                    n = fill(under, buf, n, deadline, connection, peer);
                }
                length = ProxyHeaderParser.v2Length(buf);
                if (length > maxHeaderLength) {
                    throw new ProtocolException("PROXY v2 header of " + length + " bytes, more than the "
                            + maxHeaderLength + " allowed (ProxyProtocol.maxHeaderLength)");
                }
                if (length > buf.length) {
                    buf = Arrays.copyOf(buf, length); // only now, within the bound
                }
                while (n < length) {
                    n = fill(under, buf, n, deadline, connection, peer);
                }
                header = ProxyHeaderParser.parseV2(buf, length);
            }
        } catch (ReadTimeoutException e) {
            throw refuse(connection, RejectReason.PROXY_HEADER_TIMEOUT, peer, "no complete PROXY header in time ("
                    + n + " bytes)");
        } catch (ProtocolException e) {
            throw refuse(connection, RejectReason.PROXY_HEADER_INVALID, peer, e.getMessage());
        }
        connection.ends().proxied(header);
        if (isHealthCheck(header, peer)) {
            throw healthCheck(connection);
        }
        Log.conn(Log.DEBUG, "conn.proxy", connection).addKeyValue("version", header.version())
                .addKeyValue("proxiedBy", HostPort.format(peer)).log();
        InetAddress client = header.source().map(ProxyProtocolLayer::addressOf).orElse(null);
        admit(connection, client != null ? server.admitClient(connection, client) : server.admitUnknownClient(connection));
        return PrefixTransport.of(under, buf, length, n);
    }

    /** Counts a health check and ends its connection, which the server does not count as a client's. */
    private Refused healthCheck(RealConnection connection) {
        server.healthCheck(); // not accepted: the server does not count its end
        connection.healthCheck = true; // nor log it: a check every few seconds is not a client that left
        connection.recordEnd(CloseReason.CLOSED, null);
        return new Refused("a health check");
    }

    /**
     * Whether the proxy connected on its own behalf: a LOCAL header, or a version 1 header naming
     * the connection's own source, address and port, as HAProxy's health checks with
     * {@code send-proxy} do (version 1 has no LOCAL). A relayed client's address and port cannot be
     * the proxy's own outgoing ones.
     */
    static boolean isHealthCheck(ProxyHeader header, SocketAddress peer) {
        return header.isLocal() || (header.version() == 1 && header.source().map(peer::equals).orElse(false));
    }

    /**
     * What a read that failed before the header was known means, as the end of stream in its place
     * does: a failure is one (counted) thing only, and a connection's end is counted if the server
     * counted it accepted. Before the first byte where a header is required, a trusted proxy's
     * reset is a health check (HAProxy's layer-4 checks reset); in optional mode it is a direct
     * client that went at once (accepted, and its end is the reset, as a server without the PROXY
     * protocol counts it); inside a header, a truncated header. Any other failure (a timeout, or
     * none of a broken connection's) is left to the caller.
     */
    private IOException broken(IOException e, int n, boolean fromProxy, RealConnection connection, SocketAddress peer)
            throws IOException {
        if (!Ends.isBroken(e)) {
            return e;
        }
        if (n > 0) {
            return refuse(connection, RejectReason.PROXY_HEADER_INVALID, peer, "connection broken inside the PROXY"
                    + " header (" + n + " bytes): " + e.getMessage());
        }
        if (mode == ProxyProtocol.Mode.OPTIONAL) {
            admit(connection, server.admitClient(connection, fromProxy ? addressOf(peer) : null));
            return e;
        }
        return fromProxy ? healthCheck(connection) : e; // the same check closing with a reset, as HAProxy's do
    }

    /** Reads more of the header; end of stream or a broken connection is a truncated header. */
    private int fill(Transport under, byte[] buf, int n, long deadline, RealConnection connection, SocketAddress peer)
            throws IOException {
        int r;
        try {
            r = under.read(buf, n, buf.length - n, deadline);
        } catch (IOException e) {
            throw broken(e, n, true, connection, peer);
        }
        if (r < 0) {
            throw refuse(connection, RejectReason.PROXY_HEADER_INVALID, peer, "end of stream inside the PROXY header ("
                    + n + " bytes)");
        }
        return n + r;
    }

    /** Ends the connection if the server refused its client ({@code refusal} not null: counted and logged already). */
    private static void admit(RealConnection connection, RejectReason refusal) throws Refused {
        if (refusal != null) {
            connection.recordEnd(CloseReason.REJECTED, null);
            throw new Refused(refusal.key());
        }
    }

    private Refused refuse(RealConnection connection, RejectReason reason, SocketAddress peer, String detail) {
        connection.recordEnd(CloseReason.REJECTED, null);
        server.rejected(reason, peer, detail);
        return new Refused(detail);
    }

    private static InetAddress addressOf(SocketAddress a) {
        return a instanceof InetSocketAddress inet ? inet.getAddress() : null;
    }

    /** Ends the connection before it starts; the reason is recorded already. No stack trace: refusals are cheap. */
    static final class Refused extends IOException {
        Refused(String message) {
            super(message);
        }

        @Override
        public Throwable fillInStackTrace() { // no lock needed: nothing is filled in
            return this;
        }
    }
}
