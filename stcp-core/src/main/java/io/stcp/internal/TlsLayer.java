package io.stcp.internal;

import io.stcp.Durations;
import io.stcp.FrameTimeoutException;
import io.stcp.ReadTimeoutException;
import io.stcp.TlsInfo;
import java.io.IOException;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * The TLS {@link TransportLayer}: makes an {@link SSLEngine}, runs the handshake on the
 * connection's thread over the transport below, tells the connection what was settled
 * ({@link io.stcp.Connection#tls()}) and returns a {@link TlsTransport}.
 *
 * <p><b>Time.</b> The handshake must finish by the first-frame deadline it is given and within
 * its own handshake timeout, whichever comes first; past it the connection ends with a
 * {@link FrameTimeoutException} ({@link io.stcp.CloseReason#FRAME_TIMEOUT}), so a peer that never
 * finishes its handshake is closed even when the server has no first-frame timeout.
 *
 * <p><b>Failure.</b> A failed handshake sends the engine's alert where it can (within
 * {@value #ALERT_MILLIS} ms) and throws an {@link SSLHandshakeException} whose message names the
 * reason; the connection ends with {@link io.stcp.CloseReason#PROTOCOL_ERROR}, which
 * {@link ExitLog} writes at WARN, rate-limited. Every failure, timeouts and resets included, is
 * counted by the server's (or client's) {@link RealTlsConfig} — but a peer that closes before
 * sending a byte (a TCP health check) just ends ({@link io.stcp.CloseReason#PEER_CLOSED}, DEBUG),
 * uncounted. Either way the handshake's buffers go back to {@link TlsBuffers} at once.
 */
final class TlsLayer implements TransportLayer {
    static final long ALERT_MILLIS = 500;

    private final Supplier<RealTlsConfig.Engine> engines;
    private final long handshakeTimeoutNanos;
    private final RealTlsConfig counters;

    private TlsLayer(Supplier<RealTlsConfig.Engine> engines, Duration handshakeTimeout, RealTlsConfig counters) {
        this.engines = engines;
        this.handshakeTimeoutNanos = Nanos.timeout(handshakeTimeout);
        this.counters = counters;
    }

    /** The layers of a server with {@code config}: this one if it has TLS, else none. */
    static List<TransportLayer> forServer(io.stcp.ServerConfig config) {
        RealTlsConfig tls = RealTlsConfig.forServer(config.tls());
        return tls == null ? List.of() : List.of(server(tls));
    }

    /**
     * The layers of a client with {@code config}: this one if it has TLS, else none. The host
     * checked is the address's ({@code localhost} for an empty one), unless the TLS config names
     * the server; a {@code unix:} address has none, so there it must (the client config checks).
     */
    static List<TransportLayer> forClient(io.stcp.ClientConfig config) {
        RealTlsConfig tls = RealTlsConfig.forClient(config.tls());
        if (tls == null) {
            return List.of();
        }
        if (HostPort.isUnix(config.address())) {
            return List.of(client(tls, null, -1));
        }
        HostPort target = HostPort.parse(config.address());
        return List.of(client(tls, target.host().isEmpty() ? "localhost" : target.host(), target.port()));
    }

    /** The server side of {@code config}: its engines, handshake timeout and counters. */
    static TlsLayer server(RealTlsConfig config) {
        return new TlsLayer(config::newServerEngine, config.handshakeTimeout(), config);
    }

    /**
     * The client side, for a connection this process dialled: SNI with the server name (unless it
     * is an address) and the server's certificate checked against it (HTTPS rules) by the
     * context's trust managers; see {@link RealTlsConfig#newClientEngine}. Counted by {@code config}.
     */
    static TlsLayer client(RealTlsConfig config, String host, int port) {
        return new TlsLayer(() -> config.newClientEngine(host, port), config.handshakeTimeout(), config);
    }

    @Override
    public Transport open(Transport under, RealConnection connection, long deadlineNanos) throws IOException {
        long own = Nanos.deadline(System.nanoTime(), handshakeTimeoutNanos);
        long deadline = Nanos.earliest(deadlineNanos, own);
        RealTlsConfig.Engine made = engines.get();
        SSLEngine engine = made.engine();
        TlsTransport tls = new TlsTransport(under, made, () -> Nanos.timeout(connection.writeTimeout()));
        boolean opened = false;
        try {
            handshake(tls, deadline, own);
            counters.countHandshake();
            connection.tls(info(engine));
            opened = true;
            return tls;
        } finally {
            if (!opened) {
                // The connection never gets this transport, so its end cannot give back what the
                // handshake holds: done here, on the thread that read into them, once.
                tls.releaseBuffers();
            }
        }
    }

    /** Runs {@code tls}'s handshake; a failure is counted, and turned into what the connection ends with. */
    private void handshake(TlsTransport tls, long deadline, long own) throws IOException {
        try {
            tls.handshake(deadline);
        } catch (ReadTimeoutException e) {
            failed();
            throw new FrameTimeoutException(deadline == own
                    ? "TLS handshake not completed within the handshake timeout of "
                            + Durations.format(Duration.ofNanos(handshakeTimeoutNanos))
                    : "TLS handshake not completed within the first-frame timeout");
        } catch (SSLException e) {
            failed();
            tls.sendAlert(Nanos.deadline(System.nanoTime(), TimeUnit.MILLISECONDS.toNanos(ALERT_MILLIS)));
            throw failure(e);
        } catch (IOException e) {
            // The socket ended or failed under the handshake. Before the peer sent anything (a TCP
            // health check, whether it closes or resets, as HAProxy's do): no handshake began, so
            // none failed; the end is an ordinary one (an EOFException, or the reset's reason).
            if (!tls.peerSentNothing()) {
                failed();
            }
            throw e;
        } catch (RuntimeException | Error e) {
            failed();
            throw e;
        }
    }

    private void failed() {
        counters.countFailure();
    }

    /** Whether {@code host} is an IPv4 or IPv6 address rather than a name (SNI carries names only). */
    static boolean isAddressLiteral(String host) {
        return host.indexOf(':') >= 0 || host.matches("[0-9.]+");
    }

    /**
     * The exception a failed handshake ends its connection with, which its exit line shows: the
     * reason ({@link #reason}), and the engine's exception as the cause. The JDK quotes bytes of
     * the peer's in some of its messages (a server name it cannot take: "Illegal server name,
     * type=host_name(0), name=..."), so control characters in them are escaped, there and in the
     * cause (a copy then, with the engine's stack): a client must not write lines of its own
     * into the server's log.
     */
    static SSLHandshakeException failure(SSLException e) {
        SSLHandshakeException failure = new SSLHandshakeException("TLS handshake failed: " + printable(reason(e)));
        String m = String.valueOf(e.getMessage());
        if (printable(m).equals(m)) {
            failure.initCause(e);
        } else {
            SSLException cause = new SSLException(e.getClass().getName() + ": " + printable(m), e.getCause());
            cause.setStackTrace(e.getStackTrace());
            failure.initCause(cause);
        }
        return failure;
    }

    /** {@code text} with each control character (a line feed, a carriage return) written as a Java escape. */
    static String printable(String text) {
        StringBuilder b = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isISOControl(c)) {
                if (b == null) {
                    b = new StringBuilder(text.length() + 8).append(text, 0, i);
                }
                b.append(String.format("\\u%04x", (int) c));
            } else if (b != null) {
                b.append(c);
            }
        }
        return b == null ? text : b.toString();
    }

    /** The reason of a failed handshake, in words an operator can act on. */
    static String reason(SSLException e) {
        String m = String.valueOf(e.getMessage());
        if (m.contains("nrecognized SSL message")) {
            return "not TLS (plain text or another protocol sent to the TLS port)";
        }
        if (m.contains("Empty client certificate chain") || m.contains("certificate_required")) {
            return "the client sent no certificate (client authentication is required)";
        }
        if (m.contains("No subject alternative") || m.contains("No name matching")) {
            return "the server's certificate is for another name (" + m + ")";
        }
        if (m.contains("PKIX path")) {
            return "the peer's certificate is not from a trusted CA (" + m + ")";
        }
        return m;
    }

    /** What the handshake of {@code engine} settled. */
    static TlsInfo info(SSLEngine engine) {
        SSLSession session = engine.getSession();
        List<X509Certificate> peer = new ArrayList<>();
        try {
            for (Certificate c : session.getPeerCertificates()) {
                if (c instanceof X509Certificate x) {
                    peer.add(x);
                }
            }
        } catch (SSLPeerUnverifiedException e) {
            // the peer did not authenticate
        }
        String alpn = engine.getApplicationProtocol();
        String sni = null;
        if (session instanceof ExtendedSSLSession ext && !engine.getUseClientMode()) {
            for (SNIServerName n : ext.getRequestedServerNames()) {
                if (n instanceof SNIHostName h) {
                    sni = h.getAsciiName();
                    break;
                }
            }
        }
        return new TlsInfo(session.getProtocol(), session.getCipherSuite(), peer,
                alpn == null || alpn.isEmpty() ? null : alpn, sni);
    }
}
