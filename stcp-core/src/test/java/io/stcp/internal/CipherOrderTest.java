package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import org.junit.jupiter.api.Test;

class CipherOrderTest {

    @Test
    void eachAes128GcmSuiteMovesJustBeforeItsAes256CounterpartAndNothingElseMoves() {
        String[] in = {"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"};
        assertThat(CipherOrder.aes128First(in)).containsExactly("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                "TLS_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", // no AES-128 counterpart: stays
                "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"); // not GCM: as they were
    }

    @Test
    void anOrderWithAes128AlreadyFirstAndAnEmptyListAreKept() {
        String[] in = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"};
        assertThat(CipherOrder.aes128First(in)).containsExactly(in);
        assertThat(CipherOrder.aes128First(new String[0])).isEmpty();
    }

    @Test
    void theJdksOwnDefaultsKeepEverySuiteAndPutAes128First() throws Exception {
        SSLEngine engine = SSLContext.getDefault().createSSLEngine();
        engine.setUseClientMode(false);
        String[] jdk = engine.getEnabledCipherSuites();
        List<String> ordered = List.of(CipherOrder.aes128First(jdk));
        assertThat(ordered).containsExactlyInAnyOrder(jdk).doesNotHaveDuplicates();
        assertThat(ordered.indexOf("TLS_AES_128_GCM_SHA256")).isLessThan(ordered.indexOf("TLS_AES_256_GCM_SHA384"));
    }
}
