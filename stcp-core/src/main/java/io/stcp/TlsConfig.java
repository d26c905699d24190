package io.stcp;

import io.stcp.internal.RealTlsConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;

/**
 * A server's or a client's TLS: where its key material comes from, the protocols, cipher suites
 * and ALPN protocols it accepts, whether clients must authenticate, and how long a handshake may
 * take. Set a server's ({@link #builder()}) with {@link ServerConfig.Builder#tls(TlsConfig)}; every
 * accepted connection then handshakes on its own virtual thread before the sender factory and the
 * hooks run, and the reader reads decrypted bytes with the same methods as on plain TCP. Set a
 * client's ({@link #clientBuilder()}) with {@link ClientConfig.Builder#tls(TlsConfig)}: every
 * connection the {@link TcpClient} dials handshakes the same way before its connect hook runs.
 *
 * <pre>{@code
 * TlsConfig tls = TlsConfig.builder()
 *         .pem(Path.of("cert.pem"), Path.of("key.pem")) // chain, PKCS#8 key (RSA or EC)
 *         .build();                                      // reads and checks them now
 * ServerConfig config = ServerConfig.builder().address(":9443").tls(tls).build();
 * }</pre>
 *
 * <p><b>A client</b> checks the server's certificate against the CAs of {@link Builder#trustPem},
 * {@link Builder#trustStore}, or by default the JDK's own ({@code cacerts}), and against the host
 * name it dials (or {@link Builder#serverName}), which it also sends as SNI; it presents a
 * certificate of its own, for mutual TLS, when given key material. There is no "trust all"
 * setting: a test needs the test CA, not less checking.
 *
 * <pre>{@code
 * TlsConfig tls = TlsConfig.clientBuilder()
 *         .trustPem(Path.of("ca.pem"))                   // default: the JDK's CAs
 *         .pem(Path.of("client.pem"), Path.of("client.key")) // optional: a client certificate
 *         .build();
 * ClientConfig config = ClientConfig.builder("chat.example.com:9443").tls(tls).build();
 * }</pre>
 *
 * <p><b>Key material</b> comes from PEM files ({@link Builder#pem}), a key store
 * ({@link Builder#keyStore(KeyStore, char[])}, {@link Builder#keyStore(Path, char[])}), or a ready
 * {@link SSLContext} ({@link Builder#sslContext}); a server needs it, a client only for mutual TLS.
 * Peer certificates are verified against {@link Builder#trustPem} or {@link Builder#trustStore}
 * (PKIX: chain, validity dates).
 *
 * <p><b>Reload.</b> {@link #reload()} reads the files again and {@link #reload(SSLContext)} swaps
 * in a ready context: handshakes that start afterwards use the new material, live connections
 * keep their session. {@link Builder#watch(Duration)} makes each server using this config poll
 * its files and reload when they change (from {@code start()} until the server closes). A client's
 * next connections handshake with the reloaded material; it has no watch.
 *
 * <p><b>Failure.</b> A handshake that fails (plain text on the TLS port, no common protocol or
 * cipher suite, a client certificate missing, untrusted or expired) or does not finish within
 * {@link #handshakeTimeout()} — or the server's {@link ServerConfig#firstFrameTimeout()}, if
 * earlier — closes that connection only: one {@code conn.exit} line at WARN naming the reason
 * ({@link CloseReason#PROTOCOL_ERROR}, or {@link CloseReason#FRAME_TIMEOUT} for a timeout; a few
 * lines per 10 s under attack, with the number held back), and {@link #handshakeFailures()} counts it.
 *
 * <p>On a client, a failed handshake (the server's certificate untrusted, expired or for another
 * name; no common protocol) ends that attempt before the connect hook runs: the client counts it
 * as a failed attempt and dials again after its back-off ({@link ClientConfig}), and
 * {@link #handshakeFailures()} counts it. Under TLS 1.3 a server refuses a client's certificate
 * only after the client's side of the handshake is done: that connection comes up and ends at
 * once ({@link CloseReason#PROTOCOL_ERROR}).
 *
 * <p><b>Thread safety.</b> Immutable but for the key material and the counters; every method is
 * safe from any thread. One config may serve several servers, or several clients.
 */
public interface TlsConfig {

    /** TLS 1.3 and 1.2, the default protocols. */
    List<String> DEFAULT_PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");
    /** The default handshake timeout: 10 s. */
    Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);

    /** Whether the server asks clients for a certificate. */
    enum ClientAuth {
        /** No client certificate is asked for (the default). */
        NONE,
        /** A client certificate is asked for; a client without one is accepted, one with a bad one is not. */
        OPTIONAL,
        /** A client without a valid certificate is refused. */
        REQUIRED
    }

    /** A builder for a server, with the defaults; a key source ({@code pem}, {@code keyStore} or {@code sslContext}) is required. */
    static Builder builder() {
        return new Builder(false);
    }

    /**
     * A builder for a client ({@link ClientConfig.Builder#tls}), with the defaults: the JDK's CAs,
     * no client certificate, the server name from the address dialled. {@link Builder#clientAuth}
     * and {@link Builder#watch} are server settings, refused here.
     */
    static Builder clientBuilder() {
        return new Builder(true);
    }

    /** Shorthand for {@code builder().pem(certificateChain, privateKey).build()}. */
    static TlsConfig fromPem(Path certificateChain, Path privateKey) throws IOException, GeneralSecurityException {
        return builder().pem(certificateChain, privateKey).build();
    }

    /**
     * The protocols accepted, most preferred first. Default {@link #DEFAULT_PROTOCOLS}. Each must
     * be one the JDK supports and its security policy allows: SSLv3, TLSv1 and TLSv1.1, which it
     * disables ({@code jdk.tls.disabledAlgorithms}), are refused at build, as are cipher suites
     * none of the protocols can use.
     */
    List<String> protocols();

    /**
     * The cipher suites accepted, most preferred first. Empty (the default) means the JDK's enabled
     * suites (its security policy applied) in the JDK's order, except that each AES-128-GCM suite
     * comes just before its AES-256-GCM counterpart, so a peer that offers both gets AES-128-GCM:
     * TLS 1.3's mandatory suite, the one Netty, BoringSSL and Go prefer, and cheaper per byte (10
     * AES rounds instead of 14; BENCHMARKS.md, "TLS with a C generator"). A server picks by its own order.
     */
    List<String> cipherSuites();

    /** The ALPN protocols offered, most preferred first; empty (the default) means no ALPN. */
    List<String> applicationProtocols();

    /** Whether clients must authenticate. Default {@link ClientAuth#NONE}; always NONE on a client. */
    ClientAuth clientAuth();

    /** Whether this is a client's config ({@link #clientBuilder()}) rather than a server's. */
    boolean isClient();

    /**
     * The host name a client sends as SNI and checks the server's certificate against, or null
     * (the default; always on a server) for the host of the address it dials — {@code localhost}
     * when that host is empty ({@code ":9443"}). An IP address is checked against the
     * certificate's IP addresses and not sent (SNI carries names only); the trailing dot of an
     * absolute name ({@code "db.example."}) is left off. A host that is no such name (one with an
     * {@code _}) is refused by {@link ClientConfig.Builder#build()} unless this names the server.
     */
    @Nullable String serverName();

    /**
     * The longest a handshake may take, from its start: at the accept, or once a PROXY header has
     * been read (a client's: at the connect); {@link ServerConfig#firstFrameTimeout()}, counted from
     * the accept, bounds a server's too when it ends first. Default
     * {@link #DEFAULT_HANDSHAKE_TIMEOUT}; zero means only the first-frame timeout bounds it (on a
     * client: no bound).
     */
    Duration handshakeTimeout();

    /** How often the files are polled for changes; {@link Duration#ZERO} (the default) means no watch. */
    Duration watchInterval();

    /** The context new handshakes use now. */
    SSLContext sslContext();

    /**
     * Reads the key material (and trust bundle) again from the files or key store it was built
     * from and uses it for new handshakes. If anything fails, the material in use stays.
     *
     * @throws IllegalStateException if this config was built from a ready {@link SSLContext}
     */
    void reload() throws IOException, GeneralSecurityException;

    /**
     * Uses {@code context} for new handshakes from now on; live connections keep their session. It
     * is used as it is, as {@link Builder#sslContext} says.
     */
    void reload(SSLContext context);

    /** Handshakes completed so far, on every server using this config. */
    long handshakes();

    /**
     * Handshakes that failed or timed out so far, on every server using this config. A peer that
     * closed or reset the connection before sending a byte (a TCP health check) began none: not counted.
     */
    long handshakeFailures();

    /** Times the key material was replaced ({@link #reload()}, {@link #reload(SSLContext)}, the watch). */
    long reloads();

    /** Mutable builder for {@link TlsConfig}; not thread-safe. */
    final class Builder {
        private @Nullable Path certificateChain;
        private @Nullable Path privateKey;
        private @Nullable KeyStore keyStore;
        private @Nullable Path keyStoreFile;
        private char @Nullable [] keyStorePassword;
        private @Nullable SSLContext sslContext;
        private @Nullable Path trustPem;
        private @Nullable KeyStore trustStore;
        private ClientAuth clientAuth = ClientAuth.NONE;
        private List<String> protocols = DEFAULT_PROTOCOLS;
        private List<String> cipherSuites = List.of();
        private List<String> applicationProtocols = List.of();
        private Duration handshakeTimeout = DEFAULT_HANDSHAKE_TIMEOUT;
        private Duration watchInterval = Duration.ZERO;
        private final boolean client;
        private @Nullable String serverName;

        private Builder(boolean client) {
            this.client = client;
        }

        /**
         * Key material from PEM files: the certificate chain (leaf first, then intermediates) and
         * its private key (unencrypted PKCS#8 {@code PRIVATE KEY}, or PKCS#1 {@code RSA PRIVATE KEY};
         * RSA, EC, Ed25519). They may be the same file. On a client: its certificate, for mutual TLS.
         */
        public Builder pem(Path certificateChain, Path privateKey) {
            this.certificateChain = Objects.requireNonNull(certificateChain, "certificateChain");
            this.privateKey = Objects.requireNonNull(privateKey, "privateKey");
            return this;
        }

        /** Key material from a key store holding one private key entry, protected by {@code password}. */
        public Builder keyStore(KeyStore keyStore, char[] password) {
            this.keyStore = Objects.requireNonNull(keyStore, "keyStore");
            this.keyStorePassword = Objects.requireNonNull(password, "password").clone();
            return this;
        }

        /** Key material from a key store file (PKCS#12 or JKS), read again by {@link TlsConfig#reload()}. */
        public Builder keyStore(Path file, char[] password) {
            this.keyStoreFile = Objects.requireNonNull(file, "file");
            this.keyStorePassword = Objects.requireNonNull(password, "password").clone();
            return this;
        }

        /**
         * A ready context, used as it is: its key and trust managers decide. Protocols, cipher
         * suites, ALPN and client authentication set here still apply to each connection. It is
         * not changed: on a client, the JDK keeps every TLS 1.3 session ticket a server sends for
         * the connection's life, unless the context's client session timeout is over 7 days
         * ({@code getClientSessionContext().setSessionTimeout(604801)}, which gives up TLS 1.3
         * resumption), so with a context that keeps them a connection ends once its server has
         * sent 256 KiB of records without data (tickets, key updates) — about 6,000 key updates.
         * A client's context that stcp makes from files keeps none.
         */
        public Builder sslContext(SSLContext sslContext) {
            this.sslContext = Objects.requireNonNull(sslContext, "sslContext");
            return this;
        }

        /**
         * The CAs that peer certificates must chain to — a server's clients', a client's server's —
         * as a PEM bundle of one or more certificates. A client without it trusts the JDK's CAs. A
         * server's needs {@link #clientAuth} OPTIONAL or REQUIRED: without either it asks for no
         * certificate to check, and the build refuses it rather than leave it unused.
         */
        public Builder trustPem(Path caBundle) {
            this.trustPem = Objects.requireNonNull(caBundle, "trustPem");
            return this;
        }

        /** As {@link #trustPem}, the trusted certificates of a key store (on a server: with {@link #clientAuth} too). */
        public Builder trustStore(KeyStore trustStore) {
            this.trustStore = Objects.requireNonNull(trustStore, "trustStore");
            return this;
        }

        /** See {@link TlsConfig#clientAuth()}; OPTIONAL and REQUIRED need a trust store (or a ready context). */
        public Builder clientAuth(ClientAuth clientAuth) {
            this.clientAuth = Objects.requireNonNull(clientAuth, "clientAuth");
            return this;
        }

        /** See {@link TlsConfig#serverName()}; clients only. */
        public Builder serverName(String serverName) {
            this.serverName = Objects.requireNonNull(serverName, "serverName");
            return this;
        }

        /** See {@link TlsConfig#protocols()}. */
        public Builder protocols(String... protocols) {
            this.protocols = List.of(Objects.requireNonNull(protocols, "protocols"));
            return this;
        }

        /** See {@link TlsConfig#cipherSuites()}. */
        public Builder cipherSuites(String... cipherSuites) {
            this.cipherSuites = List.of(Objects.requireNonNull(cipherSuites, "cipherSuites"));
            return this;
        }

        /** See {@link TlsConfig#applicationProtocols()}. */
        public Builder applicationProtocols(String... applicationProtocols) {
            this.applicationProtocols = List.of(Objects.requireNonNull(applicationProtocols, "applicationProtocols"));
            return this;
        }

        /** See {@link TlsConfig#handshakeTimeout()}. */
        public Builder handshakeTimeout(Duration handshakeTimeout) {
            this.handshakeTimeout = Objects.requireNonNull(handshakeTimeout, "handshakeTimeout");
            return this;
        }

        /**
         * Polls the PEM or key store files every {@code interval} while a server using this config
         * runs, and reloads when one changes (a failed reload — say, the certificate written but not
         * yet its key — is logged at WARN as {@code tls.reload.failed} and tried again at the next
         * change). Zero or negative turns it off (the default); a length too long to measure
         * (centuries) never polls.
         */
        public Builder watch(Duration interval) {
            this.watchInterval = Objects.requireNonNull(interval, "watch");
            return this;
        }

        /**
         * Validates the settings, reads and checks the key material (the private key must match the
         * certificate) and builds the context.
         *
         * @throws IllegalArgumentException naming the setting that is wrong
         * @throws IOException if a file cannot be read
         * @throws GeneralSecurityException if a file or key store holds no usable key material
         */
        public TlsConfig build() throws IOException, GeneralSecurityException {
            return new RealTlsConfig(certificateChain, privateKey, keyStore, keyStoreFile, keyStorePassword, sslContext,
                    trustPem, trustStore, clientAuth, protocols, cipherSuites, applicationProtocols, handshakeTimeout,
                    watchInterval, client, serverName);
        }
    }
}
