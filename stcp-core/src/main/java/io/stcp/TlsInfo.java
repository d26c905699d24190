package io.stcp;

import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Objects;
import java.util.function.BiConsumer;
import org.jspecify.annotations.Nullable;

/**
 * What the TLS handshake of a connection settled: {@link Connection#tls()} returns it on a TLS
 * connection (empty on a plain one), from the start hooks on.
 *
 * @param protocol            the protocol, e.g. {@code TLSv1.3}
 * @param cipherSuite         the cipher suite, e.g. {@code TLS_AES_128_GCM_SHA256}
 * @param peerCertificates    the peer's certificate chain as it sent it, leaf first — on a server
 *                            the client's, on a client the server's; the trust check accepted the
 *                            leaf by a path to a trusted certificate, which need not use every
 *                            certificate sent. On a server, empty when the client did not authenticate (see
 *                            {@link TlsConfig.ClientAuth})
 * @param applicationProtocol the protocol agreed through ALPN, or null when none was
 * @param serverName          the host name the client asked for (SNI), or null when it sent none
 */
public record TlsInfo(String protocol, String cipherSuite, List<X509Certificate> peerCertificates,
                      @Nullable String applicationProtocol, @Nullable String serverName) {

    /** Checks the fields and copies the list. */
    public TlsInfo {
        Objects.requireNonNull(protocol, "protocol");
        Objects.requireNonNull(cipherSuite, "cipherSuite");
        peerCertificates = List.copyOf(peerCertificates);
    }

    /**
     * Hands these facts to {@code sink} as log fields ({@code tlsProtocol}, {@code tlsCipher}, and
     * when present {@code tlsPeer} — the peer certificate's subject —, {@code alpn}, {@code sni}),
     * for a {@link MetaInfo} that wants them on every log line of the connection:
     * <pre>{@code
     * record TlsMeta(String remoteAddress, TlsInfo tls) implements MetaInfo {
     *     public void forEachField(BiConsumer<String, Object> sink) {
     *         sink.accept("remoteAddr", remoteAddress);
     *         tls.forEachField(sink);
     *     }
     * }
     * }</pre>
     */
    public void forEachField(BiConsumer<String, Object> sink) {
        sink.accept("tlsProtocol", protocol);
        sink.accept("tlsCipher", cipherSuite);
        if (!peerCertificates.isEmpty()) {
            sink.accept("tlsPeer", peerCertificates.get(0).getSubjectX500Principal().getName());
        }
        if (applicationProtocol != null) {
            sink.accept("alpn", applicationProtocol);
        }
        if (serverName != null) {
            sink.accept("sni", serverName);
        }
    }
}
