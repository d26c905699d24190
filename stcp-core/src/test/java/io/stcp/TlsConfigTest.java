package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.TestCerts;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.time.Duration;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TlsConfig is validated when it is built, with messages that name what is wrong. */
class TlsConfigTest {
    private static TestCerts certs;

    @BeforeAll
    static void certificates() {
        certs = TestCerts.get();
    }

    @Test
    void defaultsAreTls13And12NoClientAuthATenSecondHandshakeAndNoWatch() throws Exception {
        TlsConfig tls = TlsConfig.fromPem(certs.serverCert, certs.serverKey);
        assertThat(tls.protocols()).containsExactly("TLSv1.3", "TLSv1.2");
        assertThat(tls.cipherSuites()).isEmpty();
        assertThat(tls.applicationProtocols()).isEmpty();
        assertThat(tls.clientAuth()).isEqualTo(TlsConfig.ClientAuth.NONE);
        assertThat(tls.handshakeTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(tls.watchInterval()).isZero();
        ServerConfig config = ServerConfig.builder().tls(tls).build();
        assertThat(config.toBuilder().build().tls()).isSameAs(tls);
        assertThat(ServerConfig.defaults().tls()).isNull();
    }

    @Test
    void keyMaterialComesFromRsaPkcs1PemAKeyStoreFileOrAReadyContext() throws Exception {
        assertThat(TlsConfig.fromPem(certs.rsaCert, certs.rsaKeyPkcs1).sslContext()).isNotNull();
        TlsConfig fromFile = TlsConfig.builder().keyStore(certs.serverP12, "secret".toCharArray()).build();
        fromFile.reload();
        KeyStore ks = KeyStore.getInstance(certs.serverP12.toFile(), "secret".toCharArray());
        assertThat(TlsConfig.builder().keyStore(ks, "secret".toCharArray()).build().sslContext()).isNotNull();
        SSLContext ready = fromFile.sslContext();
        TlsConfig fixed = TlsConfig.builder().sslContext(ready).build();
        assertThat(fixed.sslContext()).isSameAs(ready);
        assertThatThrownBy(fixed::reload).isInstanceOf(IllegalStateException.class).hasMessageContaining("reload(SSLContext)");
    }

    /**
     * A client's context made from files, reloaded or not, has a client session timeout over 7
     * days, which has the JDK drop TLS 1.3 session tickets (TlsPackedSessionTicketsTest shows why);
     * a context given, at the build or a reload, is the application's and is left as it is (its
     * connections bound records without data over their life: TlsKeyUpdatesOverALifeTest), and so
     * is a server's.
     */
    @Test
    void aClientsOwnContextKeepsNoSessionTicketsAGivenOneAndAServersAreLeftAlone() throws Exception {
        int week = 7 * 24 * 3600;
        TlsConfig own = TlsConfig.clientBuilder().trustPem(certs.caCert).build();
        assertThat(own.sslContext().getClientSessionContext().getSessionTimeout()).isGreaterThan(week);
        own.reload();
        assertThat(own.sslContext().getClientSessionContext().getSessionTimeout()).isGreaterThan(week);
        SSLContext ready = certs.clientContext();
        ready.getClientSessionContext().setSessionTimeout(0); // no timeout: the JDK keeps tickets
        TlsConfig given = TlsConfig.clientBuilder().sslContext(ready).build();
        assertThat(ready.getClientSessionContext().getSessionTimeout()).isZero(); // the application's: as it was
        SSLContext next = certs.clientContext();
        given.reload(next);
        assertThat(next.getClientSessionContext().getSessionTimeout()).isEqualTo(24 * 3600); // the JDK's default
        SSLContext server = TlsConfig.fromPem(certs.serverCert, certs.serverKey).sslContext();
        assertThat(server.getClientSessionContext().getSessionTimeout()).isEqualTo(24 * 3600);
    }

    @Test
    void settingsThatCannotWorkAreRefusedNamingTheSetting() {
        assertThatThrownBy(() -> TlsConfig.builder().build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no key material");
        assertThatThrownBy(() -> TlsConfig.builder().pem(certs.serverCert, certs.serverKey)
                .clientAuth(TlsConfig.ClientAuth.REQUIRED).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("clientAuth: REQUIRED without a trust store");
        assertThatThrownBy(() -> TlsConfig.builder().pem(certs.serverCert, certs.serverKey).protocols("TLSv1.4").build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("protocols: TLSv1.4 is not supported");
        assertThatThrownBy(() -> TlsConfig.builder().pem(certs.serverCert, certs.serverKey).cipherSuites("TLS_NOPE").build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cipherSuites: TLS_NOPE");
        assertThatThrownBy(() -> TlsConfig.builder().sslContext(certs.clientContext()).watch(Duration.ofSeconds(1)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("watch");
        // CAs for client certificates that a server never asks for were accepted and never used
        assertThatThrownBy(() -> TlsConfig.builder().pem(certs.serverCert, certs.serverKey).trustPem(certs.caCert).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("trustPem: set on a server with clientAuth NONE (expected: clientAuth OPTIONAL or REQUIRED;");
    }

    /** Protocols the JDK supports but its security policy disables: every handshake would fail. */
    @Test
    void protocolsTheJdkDisablesAndCipherSuitesNoProtocolCanUseAreRefused() {
        assertThatThrownBy(() -> TlsConfig.builder().pem(certs.serverCert, certs.serverKey).protocols("TLSv1").build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("protocols: TLSv1 is disabled by this JDK's security policy")
                .hasMessageContaining("TLSv1.3");
        assertThatThrownBy(() -> TlsConfig.clientBuilder().protocols("TLSv1.3", "TLSv1.1").build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("protocols: TLSv1.1 is disabled");
        assertThatThrownBy(() -> TlsConfig.clientBuilder().protocols("TLSv1.3")
                .cipherSuites("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256").build()) // a TLS 1.2 suite
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cipherSuites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256] with the protocols [TLSv1.3]");
    }

    @Test
    void aKeyThatDoesNotMatchTheCertificateIsRefused() {
        assertThatThrownBy(() -> TlsConfig.fromPem(certs.serverCert, certs.server2Key))
                .isInstanceOf(GeneralSecurityException.class).hasMessageContaining("does not match");
        assertThatThrownBy(() -> TlsConfig.fromPem(certs.rsaCert, certs.serverKey))
                .isInstanceOf(GeneralSecurityException.class).hasMessageContaining("does not match");
    }

    /** The CA first, the leaf after it: the key does match a certificate of the chain, only not the first. */
    @Test
    void aChainInReverseOrderIsRefusedSayingSo(@TempDir Path dir) throws Exception {
        Path reversed = Files.writeString(dir.resolve("reversed.pem"),
                Files.readString(certs.caCert) + Files.readString(certs.serverCert));
        assertThatThrownBy(() -> TlsConfig.fromPem(reversed, certs.serverKey))
                .isInstanceOf(GeneralSecurityException.class)
                .hasMessageContaining(reversed.toString())
                .hasMessageContaining("out of order")
                .hasMessageContaining("certificate 2 of 2")
                .hasMessageNotContaining("does not match");
        Path leafFirst = Files.writeString(dir.resolve("chain.pem"),
                Files.readString(certs.serverCert) + Files.readString(certs.caCert));
        assertThat(TlsConfig.fromPem(leafFirst, certs.serverKey).sslContext()).isNotNull();
    }

    @Test
    void unusableFilesAreRefusedWithTheirNameAndAWayOut(@TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> TlsConfig.fromPem(dir.resolve("missing.pem"), certs.serverKey))
                .isInstanceOf(NoSuchFileException.class);
        Path sec1 = Files.writeString(dir.resolve("sec1.pem"), "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n");
        assertThatThrownBy(() -> TlsConfig.fromPem(certs.serverCert, sec1))
                .isInstanceOf(GeneralSecurityException.class).hasMessageContaining(sec1.toString()).hasMessageContaining("openssl pkcs8 -topk8");
        Path noCert = Files.writeString(dir.resolve("empty.pem"), "nothing here\n");
        assertThatThrownBy(() -> TlsConfig.fromPem(noCert, certs.serverKey))
                .isInstanceOf(GeneralSecurityException.class).hasMessageContaining("no \"-----BEGIN CERTIFICATE-----\" block");
        // The key and the chain may share one file.
        Path both = dir.resolve("both.pem");
        Files.writeString(both, Files.readString(certs.serverKey) + Files.readString(certs.serverCert));
        assertThat(TlsConfig.fromPem(both, both).sslContext()).isNotNull();
    }

    @Test
    void aCaBundleWithUtf8NamesBetweenItsBlocksAndAByteOrderMarkIsRead(@TempDir Path dir) throws Exception {
        // As curl's cacert.pem names its CAs: in UTF-8, between the blocks.
        Path bundle = dir.resolve("cacert.pem");
        Files.writeString(bundle, "NetLock Arany (Class Gold) F\u0151tan\u00fas\u00edtv\u00e1ny\n=====\n"
                + Files.readString(certs.caCert), java.nio.charset.StandardCharsets.UTF_8);
        TlsConfig client = TlsConfig.clientBuilder().trustPem(bundle).build();
        assertThat(client.sslContext()).isNotNull();
        // Saved by an editor that writes a UTF-8 byte order mark first.
        Path bom = dir.resolve("bom.pem");
        Files.write(bom, new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF});
        Files.writeString(bom, Files.readString(certs.serverCert), java.nio.file.StandardOpenOption.APPEND);
        assertThat(TlsConfig.fromPem(bom, certs.serverKey).sslContext()).isNotNull();
    }

    @Test
    void anEncryptedTraditionalKeyOrABrokenBlockIsRefusedNamingTheFileAndWhy(@TempDir Path dir) throws Exception {
        // What "openssl genrsa -aes256" wrote before OpenSSL 3, with RFC 1421 headers in the block.
        Path encrypted = Files.writeString(dir.resolve("encrypted.key"), """
                -----BEGIN RSA PRIVATE KEY-----
                Proc-Type: 4,ENCRYPTED
                DEK-Info: AES-256-CBC,4F28135950D52EEA8477A2F2C56090A8

                AAAA
                -----END RSA PRIVATE KEY-----
                """);
        assertThatThrownBy(() -> TlsConfig.fromPem(certs.rsaCert, encrypted))
                .isInstanceOf(GeneralSecurityException.class).hasMessageContaining(encrypted.toString())
                .hasMessageContaining("key is encrypted").hasMessageContaining("openssl pkcs8 -topk8");
        // Base64 that cannot be decoded (a '=' before the end): a security exception naming the file, not a bare IAE.
        Path broken = Files.writeString(dir.resolve("broken.pem"),
                "-----BEGIN CERTIFICATE-----\nMIIB=\nABCD\n-----END CERTIFICATE-----\n");
        assertThatThrownBy(() -> TlsConfig.fromPem(broken, certs.serverKey))
                .isInstanceOf(GeneralSecurityException.class).hasMessageContaining(broken.toString())
                .hasMessageContaining("base64");
        Path brokenKey = Files.writeString(dir.resolve("broken.key"),
                "-----BEGIN PRIVATE KEY-----\nMIIB=\nABCD\n-----END PRIVATE KEY-----\n");
        assertThatThrownBy(() -> TlsConfig.fromPem(certs.serverCert, brokenKey))
                .isInstanceOf(GeneralSecurityException.class).hasMessageContaining(brokenKey.toString())
                .hasMessageContaining("base64");
    }

    /**
     * A file cut short inside a block (as a watch may read one still being written), or with a
     * block that holds a stray character, is refused naming the file and the block: the block was
     * skipped, and a chain cut inside its second certificate loaded as the leaf alone, a CA bundle
     * without its last CAs, and a reload put them in use.
     */
    @Test
    void aBlockCutShortOrNotBase64IsRefusedNamingTheFileNotSkipped(@TempDir Path dir) throws Exception {
        String ca = Files.readString(certs.caCert);
        String leaf = Files.readString(certs.serverCert);
        Path chain = Files.writeString(dir.resolve("chain.pem"), leaf + ca);
        TlsConfig tls = TlsConfig.fromPem(chain, certs.serverKey);
        SSLContext whole = tls.sslContext();
        Files.writeString(chain, leaf + ca.substring(0, ca.length() / 2)); // the CA half written
        assertThatThrownBy(() -> TlsConfig.fromPem(chain, certs.serverKey))
                .isInstanceOf(GeneralSecurityException.class).hasMessageContaining(chain.toString())
                .hasMessageContaining("block 2").hasMessageContaining("no \"-----END CERTIFICATE-----\" line");
        assertThatThrownBy(tls::reload).isInstanceOf(GeneralSecurityException.class).hasMessageContaining("block 2");
        assertThat(tls.sslContext()).isSameAs(whole);
        assertThatThrownBy(() -> TlsConfig.clientBuilder().trustPem(chain).build())
                .isInstanceOf(GeneralSecurityException.class).hasMessageContaining("no \"-----END CERTIFICATE-----\" line");

        String key = Files.readString(certs.serverKey);
        Path cutKey = Files.writeString(dir.resolve("cut.key"), key.substring(0, key.length() / 2));
        assertThatThrownBy(() -> TlsConfig.fromPem(certs.serverCert, cutKey))
                .isInstanceOf(GeneralSecurityException.class).hasMessageContaining(cutKey.toString())
                .hasMessageContaining("no \"-----END PRIVATE KEY-----\" line");

        int body = ca.indexOf('\n') + 1;
        Path stray = Files.writeString(dir.resolve("stray.pem"), leaf + ca.substring(0, body) + "*" + ca.substring(body));
        assertThatThrownBy(() -> TlsConfig.fromPem(stray, certs.serverKey))
                .isInstanceOf(GeneralSecurityException.class).hasMessageContaining(stray.toString())
                .hasMessageContaining("block 2").hasMessageContaining("not base64");
    }

    /**
     * A chain whose certificate is not followed by its issuer (a stale intermediate, another CA's),
     * or repeats one, is refused naming the file and the certificates, not with the key store's
     * bare "Certificate chain is not valid".
     */
    @Test
    void aChainWhoseCertificatesDoNotFollowTheirIssuersIsRefusedNamingThem(@TempDir Path dir) throws Exception {
        String leaf = Files.readString(certs.serverCert);
        Path foreign = Files.writeString(dir.resolve("foreign.pem"), leaf + Files.readString(certs.untrustedClientCert));
        assertThatThrownBy(() -> TlsConfig.fromPem(foreign, certs.serverKey))
                .isInstanceOf(GeneralSecurityException.class).hasMessageContaining(foreign.toString())
                .hasMessageContaining("certificate 2 of 2").hasMessageContaining("did not issue certificate 1");
        String ca = Files.readString(certs.caCert);
        Path twice = Files.writeString(dir.resolve("twice.pem"), leaf + ca + ca);
        assertThatThrownBy(() -> TlsConfig.fromPem(twice, certs.serverKey))
                .isInstanceOf(GeneralSecurityException.class).hasMessageContaining(twice.toString())
                .hasMessageContaining("certificate 3 of 3 repeats certificate 2");
    }
}
