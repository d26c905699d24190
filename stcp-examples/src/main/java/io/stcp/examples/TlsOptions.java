package io.stcp.examples;

import io.stcp.TlsConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;

/** The {@code --tls-*} options of the {@code echo} and {@code chat} commands as a {@link TlsConfig}. */
final class TlsOptions {
    private TlsOptions() {}

    /**
     * A TLS config from PEM files: {@code cert} and {@code key} required, client certificates
     * required when {@code clientCa} is given, a file watch when {@code watch} is.
     *
     * @throws IllegalArgumentException if one of cert and key is missing, or the files hold no usable key material
     */
    static TlsConfig tls(Path cert, Path key, Path clientCa, Duration watch) {
        if (cert == null || key == null) {
            throw new IllegalArgumentException("--tls-cert and --tls-key go together (expected: both)");
        }
        TlsConfig.Builder b = TlsConfig.builder().pem(cert, key);
        if (clientCa != null) {
            b.trustPem(clientCa).clientAuth(TlsConfig.ClientAuth.REQUIRED);
        }
        if (watch != null) {
            b.watch(watch);
        }
        return build(b);
    }

    /**
     * A client's TLS config trusting the CAs in {@code ca} ({@code --tls-ca}), or null for plain
     * TCP when it is null.
     */
    static TlsConfig client(Path ca) {
        return ca == null ? null : build(TlsConfig.clientBuilder().trustPem(ca));
    }

    private static TlsConfig build(TlsConfig.Builder b) {
        try {
            return b.build();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the TLS files: " + e, e);
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }
}
