package io.stcp.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.stcp.loadgen.LoadResult;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The C load generator's TLS build ({@code target/native/loadgen-tls}, OpenSSL) against a JDK
 * TLS echo server over loopback, with certificates made by {@code openssl}. Skipped on a developer's
 * machine without gcc, OpenSSL's headers or the {@code openssl} command; on CI ({@code CI=true},
 * where {@code .ci/run} installs them) it must run.
 */
class NativeLoadgenTlsTest {
    private static final Path NATIVE_DIR = Path.of("target/native");
    private static final Path BINARY = NATIVE_DIR.resolve("loadgen-tls");

    @TempDir
    Path dir;

    @BeforeEach
    void theTlsGeneratorWasBuiltUnlessItsToolsAreMissing() {
        boolean ci = "true".equals(System.getenv("CI"));
        boolean openssl = onPath("openssl");
        if (Files.isExecutable(BINARY) && openssl) {
            return;
        }
        String cc = System.getProperty("bench.cc", "gcc");
        boolean headers = Files.exists(Path.of("/usr/include/openssl/ssl.h"));
        String missing = !onPath(cc) ? cc : !headers ? "OpenSSL's headers (Debian's libssl-dev)" : !openssl ? "openssl" : null;
        if (missing == null) {
            fail(cc + " and OpenSSL's headers are there but " + BINARY + " was not built: see the build's compile-c step");
        }
        if (ci) {
            fail(missing + " is missing, and CI=true: .ci/run installs it, so the TLS generator must be tested");
        }
        assumeTrue(false, missing + " is missing: the TLS load generator is not built or cannot be tested here");
    }

    private static boolean onPath(String command) {
        return Stream.of(System.getenv().getOrDefault("PATH", "/usr/bin").split(":"))
                .anyMatch(p -> Files.isExecutable(Path.of(p, command)));
    }

    /** A certificate for 127.0.0.1 signed by itself, its PEM (what the generator trusts) and its PKCS#12 (what the server presents). */
    private Path certificate(String name) throws Exception {
        Path pem = dir.resolve(name + ".pem");
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", name + ".key", "-out", name + ".pem", "-days", "2", "-subj", "/CN=" + name,
                "-addext", "subjectAltName=IP:127.0.0.1");
        run("openssl", "pkcs12", "-export", "-in", name + ".pem", "-inkey", name + ".key", "-out", name + ".p12",
                "-passout", "pass:secret", "-name", name);
        return pem;
    }

    private void run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("openssl.log").toFile()).start();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("openssl exits").isTrue();
        assertThat(p.exitValue()).as("openssl: %s", Files.readString(dir.resolve("openssl.log"))).isZero();
    }

    private SSLContext serverContext(String name) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(dir.resolve(name + ".p12").toFile())) {
            ks.load(in, "secret".toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "secret".toCharArray());
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), null, null);
        return ctx;
    }

    /** {@link EchoServer} over TLS, with the certificate {@code name}. */
    private EchoServer tlsEcho(String name, int frameSize) throws Exception {
        ServerSocket listener = serverContext(name).getServerSocketFactory()
                .createServerSocket(0, 50, InetAddress.getLoopbackAddress());
        return new EchoServer(listener, frameSize, Long.MAX_VALUE, Long.MAX_VALUE);
    }

    /** Runs the TLS generator to its end (at most 60 s): its exit status, stdout and stderr in {@code out} and {@code err}. */
    private int generate(String address, Path ca, int connections, int inFlight, int size) throws Exception {
        List<String> command = new ArrayList<>(List.of(BINARY.toString(), "--addr", address, "--tls-ca", ca.toString(),
                "--connections", Integer.toString(connections), "--in-flight", Integer.toString(inFlight),
                "--size", Integer.toString(size), "--warmup", "100ms", "--duration", "300ms",
                "--server-pid", Long.toString(ProcessHandle.current().pid())));
        Process p = new ProcessBuilder(command).redirectOutput(dir.resolve("out").toFile())
                .redirectError(dir.resolve("err").toFile()).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            fail("the generator did not end within 60 s; stderr: " + Files.readString(dir.resolve("err")));
        }
        return p.exitValue();
    }

    private LoadResult result() throws IOException {
        String err = Files.readString(dir.resolve("err"));
        return Files.readAllLines(dir.resolve("out")).stream().filter(l -> l.startsWith("result "))
                .map(LoadResult::parseResultLine).findFirst()
                .orElseThrow(() -> new AssertionError("no result line; stderr: " + err));
    }

    @Test
    void measuresATlsEchoServerAfterVerifyingItsCertificate() throws Exception {
        Path ca = certificate("server");
        try (EchoServer server = tlsEcho("server", 64)) {
            int status = generate(server.address(), ca, 4, 2, 64);
            String err = Files.readString(dir.resolve("err"));
            assertThat(status).as("exit status; stderr: %s", err).isZero();
            LoadResult r = result();
            assertThat(r.connections()).isEqualTo(4);
            assertThat(r.errors()).isZero();
            assertThat(r.messages()).isPositive().isLessThan(server.echoed.get()); // the pings and the warm-up came first
            assertThat(r.p50Micros()).isPositive().isLessThanOrEqualTo(r.p99Micros());
            assertThat(server.unexpected.get()).isZero();
            assertThat(err).as("the negotiated protocol and suite, once").containsOnlyOnce("loadgen: TLSv1.");
        }
    }

    @Test
    void framesLargerThanAPlainRunSendsFromAFileAreWrittenAndReadWholeOverTls() throws Exception {
        int size = 256 * 1024 + 4; // above the size from which plain runs use sendfile and drop bodies in the kernel
        Path ca = certificate("server");
        try (EchoServer server = tlsEcho("server", size)) {
            int status = generate(server.address(), ca, 2, 2, size);
            assertThat(status).as("exit status; stderr: %s", Files.readString(dir.resolve("err"))).isZero();
            LoadResult r = result();
            assertThat(r.errors()).isZero();
            assertThat(r.messages()).isPositive();
            assertThat(server.unexpected.get()).as("frames whose length the server did not expect").isZero();
        }
    }

    @Test
    void aServerCertificateItDoesNotTrustEndsTheRunBeforeTheStartWithStatusTwo() throws Exception {
        certificate("server");
        Path other = certificate("other");
        try (EchoServer server = tlsEcho("server", 64)) {
            int status = generate(server.address(), other, 2, 1, 64);
            String err = Files.readString(dir.resolve("err"));
            assertThat(status).as("stderr: %s", err).isEqualTo(2);
            assertThat(err).contains("TLS handshake: certificate verify failed").contains("failed before the start");
            assertThat(Files.readString(dir.resolve("out"))).doesNotContain("result ");
            assertThat(server.echoed.get()).isZero();
        }
    }

    @Test
    void thePlainBuildRefusesTlsAndSaysWhichBuildHasIt() throws Exception {
        Path plain = NATIVE_DIR.resolve("loadgen");
        assumeTrue(Files.isExecutable(plain), "the plain generator was not built");
        Process p = new ProcessBuilder(plain.toString(), "--addr", "127.0.0.1:1", "--tls-ca", "x.pem")
                .redirectErrorStream(true).redirectOutput(dir.resolve("out").toFile()).start();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(2);
        assertThat(Files.readString(dir.resolve("out"))).contains("this build has no TLS").contains("loadgen-tls");
    }
}
