package io.stcp;

import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.BiConsumer;
import javax.naming.InvalidNameException;
import javax.naming.NamingException;
import javax.naming.directory.Attribute;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.security.auth.x500.X500Principal;
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
     * The Common Name (CN) of the peer certificate's subject — the leaf's, unescaped: {@code dev1}
     * for the subject {@code CN=dev1,O=Acme}, as the PROXY header's
     * {@link ProxyHeader.Ssl#commonName()} gives it, and {@code Doe, Jane} for
     * {@code CN=Doe\, Jane}. A subject with several CNs gives the most specific one (the last in
     * the certificate's order, the first in its RFC 2253 string); HAProxy's SSL TLV carries the
     * first in the certificate's order instead, so for such a (rare) subject the two paths differ.
     * A CN in a multi-valued RDN ({@code CN=dev2+UID=42}) counts. Empty when there is no peer
     * certificate, or its subject has no CN (or only one not encoded as a string).
     *
     * <p>A name is only an identity once the certificate was verified: on a server, with
     * {@link TlsConfig.ClientAuth#REQUIRED}, or {@link TlsConfig.ClientAuth#OPTIONAL} when a
     * certificate is present (the handshake refuses one that does not chain to a trusted CA); and
     * any certificate of that CA may carry any CN, so trust only CAs that issue the names you accept.
     */
    public Optional<String> peerCommonName() {
        if (peerCertificates.isEmpty()) {
            return Optional.empty();
        }
        List<Rdn> rdns;
        try {
            rdns = new LdapName(peerCertificates.get(0).getSubjectX500Principal().getName(X500Principal.RFC2253))
                    .getRdns();
        } catch (InvalidNameException e) {
            return Optional.empty(); // not expected: the JDK writes RFC 2253 that LdapName reads
        }
        for (int i = rdns.size() - 1; i >= 0; i--) { // LdapName lists the least specific RDN first
            Attribute cn = rdns.get(i).toAttributes().get("CN"); // the attribute types ignore case
            try {
                if (cn != null && cn.get() instanceof String name) {
                    return Optional.of(name);
                }
            } catch (NamingException e) {
                // a BasicAttribute's values are in memory: not expected
            }
        }
        return Optional.empty();
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
