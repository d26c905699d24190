package io.stcp.testing;

import io.stcp.internal.Pem;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Assumptions;

/**
 * Certificates made with {@code openssl} when first asked for, once per JVM, in a temporary
 * folder removed at exit: a test CA; server certificates for {@code localhost} and 127.0.0.1
 * (EC, a second EC one for reloads, and RSA in PKCS#1 and PKCS#12 forms); client certificates
 * signed by the CA, by another CA, and one that has expired.
 *
 * <p>Without {@code openssl} the tests that need it are skipped, unless the environment variable
 * {@code CI} is {@code true}: CI must run them, so there they fail.
 */
public final class TestCerts {
    private static TestCerts instance;

    public final Path dir;
    public final Path caCert;
    public final Path serverCert;
    public final Path serverKey;
    public final Path server2Cert;
    public final Path server2Key;
    public final Path rsaCert;
    public final Path rsaKeyPkcs1;
    public final Path serverP12;
    public final Path clientCert;
    public final Path clientKey;
    public final Path untrustedClientCert;
    public final Path untrustedClientKey;
    public final Path expiredClientCert;
    public final Path expiredClientKey;

    /** The certificates, made on first use; skips the test (fails it on CI) without openssl. */
    public static synchronized TestCerts get() {
        if (instance == null) {
            requireOpenssl();
            try {
                instance = new TestCerts(Files.createTempDirectory("stcp-tls-"));
            } catch (IOException | InterruptedException e) {
                throw new IllegalStateException("making test certificates failed: " + e.getMessage(), e);
            }
        }
        return instance;
    }

    /** Skips the calling test without openssl, but fails it when the environment says CI=true. */
    public static void requireOpenssl() {
        boolean found = Stream.of(System.getenv().getOrDefault("PATH", "/usr/bin").split(":"))
                .anyMatch(p -> Files.isExecutable(Path.of(p, "openssl")));
        if (!found && "true".equals(System.getenv("CI"))) {
            throw new AssertionError("openssl not found on PATH, and CI=true: the TLS interop tests must run on CI");
        }
        Assumptions.assumeTrue(found, "openssl not found on PATH: TLS tests skipped (they fail on CI instead)");
    }

    private TestCerts(Path dir) throws IOException, InterruptedException {
        this.dir = dir;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> delete(dir)));
        caCert = dir.resolve("ca.pem");
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=stcp test CA");
        Files.writeString(dir.resolve("server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                + "extendedKeyUsage=serverAuth\n");
        Files.writeString(dir.resolve("client.ext"), "extendedKeyUsage=clientAuth\n");
        serverKey = dir.resolve("server.key");
        serverCert = signed("server", "ec", "/CN=localhost", "server.ext");
        server2Key = dir.resolve("server2.key");
        server2Cert = signed("server2", "ec", "/CN=localhost reloaded", "server.ext");
        rsaCert = signed("rsa", "rsa", "/CN=localhost rsa", "server.ext");
        rsaKeyPkcs1 = dir.resolve("rsa-pkcs1.key");
        openssl("pkey", "-in", "rsa.key", "-traditional", "-out", "rsa-pkcs1.key");
        serverP12 = dir.resolve("server.p12");
        openssl("pkcs12", "-export", "-in", "server.pem", "-inkey", "server.key", "-out", "server.p12",
                "-passout", "pass:secret", "-name", "server");
        clientKey = dir.resolve("client.key");
        clientCert = signed("client", "ec", "/CN=stcp test client", "client.ext");
        // Another CA, which the server does not trust.
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "30", "-subj", "/CN=other CA");
        untrustedClientKey = dir.resolve("untrusted.key");
        untrustedClientCert = dir.resolve("untrusted.pem");
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "untrusted.key",
                "-out", "untrusted.csr", "-subj", "/CN=untrusted client");
        openssl("x509", "-req", "-in", "untrusted.csr", "-CA", "other-ca.pem", "-CAkey", "other-ca.key",
                "-CAcreateserial", "-out", "untrusted.pem", "-days", "30", "-extfile", "client.ext");
        // Signed by the trusted CA, valid for one day in 2020.
        expiredClientKey = dir.resolve("expired.key");
        expiredClientCert = dir.resolve("expired.pem");
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "expired.key",
                "-out", "expired.csr", "-subj", "/CN=expired client");
        Files.writeString(dir.resolve("ca.cnf"), """
                [ ca ]
                default_ca = test
                [ test ]
                database = index.txt
                new_certs_dir = .
                serial = serial.txt
                default_md = sha256
                policy = any
                unique_subject = no
                x509_extensions = ext
                [ any ]
                commonName = supplied
                [ ext ]
                extendedKeyUsage = clientAuth
                """);
        Files.writeString(dir.resolve("index.txt"), "");
        Files.writeString(dir.resolve("serial.txt"), "1000\n");
        openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", "expired.csr",
                "-out", "expired.pem", "-notext", "-startdate", "20200101000000Z", "-enddate", "20200102000000Z");
    }

    /** A key of {@code type} (ec or rsa) and a certificate for it signed by the test CA. */
    private Path signed(String name, String type, String subject, String ext) throws IOException, InterruptedException {
        if (type.equals("rsa")) {
            openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".csr", "-subj", subject);
        } else {
            openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", name + ".key",
                    "-out", name + ".csr", "-subj", subject);
        }
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", name + ".pem", "-days", "30", "-extfile", ext);
        return dir.resolve(name + ".pem");
    }

    private void openssl(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add("openssl");
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        try (ProcessWatchdog watchdog = ProcessWatchdog.watch(p, Duration.ofSeconds(60))) {
            byte[] out = p.getInputStream().readAllBytes();
            watchdog.assertNotFired("its output to end");
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException(String.join(" ", cmd) + " failed: " + new String(out, StandardCharsets.UTF_8));
            }
        }
    }

    /** A client context trusting the test CA, presenting {@code cert}/{@code key} when not null. */
    public SSLContext clientContext(Path cert, Path key) throws Exception {
        return clientContext(caCert, cert, key);
    }

    /**
     * A client context trusting the CA in {@code caCert}, presenting {@code cert}/{@code key} when
     * not null: for a JVM of a test's own, handed the files of this one's {@link #get()}.
     */
    public static SSLContext clientContext(Path caCert, Path cert, Path key) throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("ca", Pem.certificates(caCert).get(0));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        KeyManagerFactory kmf = null;
        if (cert != null) {
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            List<X509Certificate> chain = Pem.certificates(cert);
            keys.setKeyEntry("client", Pem.privateKey(key), "pw".toCharArray(), chain.toArray(new Certificate[0]));
            kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, "pw".toCharArray());
        }
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return ctx;
    }

    /** The first flight of a real client trusting the test CA: its ClientHello record. */
    public byte[] clientHello() throws Exception {
        javax.net.ssl.SSLEngine engine = clientContext().createSSLEngine("localhost", 443);
        engine.setUseClientMode(true);
        engine.beginHandshake();
        java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        javax.net.ssl.SSLEngineResult r = engine.wrap(java.nio.ByteBuffer.allocate(0), out);
        if (r.getStatus() != javax.net.ssl.SSLEngineResult.Status.OK) {
            throw new IllegalStateException("no ClientHello: " + r);
        }
        return java.util.Arrays.copyOf(out.array(), out.position());
    }

    /** A client context trusting the test CA, without a certificate of its own. */
    public SSLContext clientContext() throws Exception {
        return clientContext(null, null);
    }

    private static void delete(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temporary folder: best effort
        }
    }
}
