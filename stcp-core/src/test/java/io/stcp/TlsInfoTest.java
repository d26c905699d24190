package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.internal.Pem;
import io.stcp.testing.ProcessWatchdog;
import io.stcp.testing.TestCerts;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link TlsInfo#peerCommonName()} on certificates made with {@code openssl}, as the TLS tests make
 * theirs: the CN unescaped, as the PROXY header's SSL TLV gives it, from subjects with escaped
 * characters, without a CN, with two, and with a multi-valued RDN. (That a verified client's CN
 * reaches the hooks: {@code TlsClientAuthTest}.)
 */
class TlsInfoTest {
    @TempDir
    static Path dir;

    @Test
    void theCommonNameIsUnescaped() throws Exception {
        // RFC 2253: CN=Doe\, Jane\+1 \"x\" #2\;\<\>=\\,O=Acme\, Inc.
        assertThat(commonName("/O=Acme\\, Inc./CN=Doe, Jane\\+1 \"x\" #2;<>=\\\\"))
                .contains("Doe, Jane+1 \"x\" #2;<>=\\");
        // RFC 2253: CN=\ dévé\  (the spaces at either end escaped)
        assertThat(commonName("/CN= dévé ")).contains(" dévé ");
    }

    @Test
    void aSubjectWithoutACommonNameHasNone() throws Exception {
        assertThat(commonName("/O=Acme/OU=Gateways, CN=not this")).isEmpty();
        assertThat(info(List.of()).peerCommonName()).isEmpty(); // no peer certificate
    }

    @Test
    void ofTwoCommonNamesTheMostSpecificIsTaken() throws Exception {
        assertThat(commonName("/CN=example.com/O=Acme/CN=dev1")).contains("dev1"); // CN=dev1,O=Acme,CN=example.com
    }

    @Test
    void aCommonNameInAMultiValuedRdnCounts() throws Exception {
        assertThat(commonName("/O=Acme/UID=42+CN=dev2")).contains("dev2"); // UID=42+CN=dev2,O=Acme
        assertThat(commonName("/O=Acme/CN=dev3+UID=43")).contains("dev3");
    }

    private static java.util.Optional<String> commonName(String subject) throws Exception {
        return info(List.of(certificate(subject))).peerCommonName();
    }

    private static TlsInfo info(List<X509Certificate> peer) {
        return new TlsInfo("TLSv1.3", "TLS_AES_128_GCM_SHA256", peer, null, null);
    }

    /** A self-signed certificate for {@code subject}, in openssl's {@code -subj} syntax. */
    private static X509Certificate certificate(String subject) throws Exception {
        TestCerts.requireOpenssl();
        String name = "c" + Integer.toHexString(subject.hashCode());
        List<String> cmd = new ArrayList<>(List.of("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", name + ".key", "-out", name + ".pem", "-days", "1",
                "-utf8", "-multivalue-rdn", "-subj", subject));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        try (ProcessWatchdog watchdog = ProcessWatchdog.watch(p, Duration.ofSeconds(60))) {
            byte[] out = p.getInputStream().readAllBytes();
            watchdog.assertNotFired("its output to end");
            assertThat(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0)
                    .as("%s: %s", cmd, new String(out, StandardCharsets.UTF_8)).isTrue();
        }
        return Pem.certificates(dir.resolve(name + ".pem")).get(0);
    }
}
