package io.stcp.loadgen;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import javax.net.ssl.SSLException;

/** Netty client TLS contexts for {@link LoadOptions.Tls}. */
final class TlsClients {
    private TlsClients() {}

    /** A client context: the protocol asked for, trusting the CA bundle (or anything), on the JDK or OpenSSL. */
    static SslContext context(LoadOptions.Tls tls) throws SSLException {
        SslContextBuilder b = SslContextBuilder.forClient()
                .protocols(tls.protocol())
                .sslProvider(tls.openssl() ? SslProvider.OPENSSL : SslProvider.JDK);
        if (tls.trustedCa() == null) {
            b.trustManager(InsecureTrustManagerFactory.INSTANCE).endpointIdentificationAlgorithm(null);
        } else {
            b.trustManager(tls.trustedCa().toFile());
        }
        return b.build();
    }
}
