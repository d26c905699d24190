package io.stcp.examples.readme;

import io.stcp.ConnectionReader;
import io.stcp.MetaInfo;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import io.stcp.TlsConfig;
import io.stcp.TlsInfo;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.BiConsumer;

/** The README's TLS server, mutual TLS and reload. */
public final class TlsServer {
    private TlsServer() {}

    static void plain(ConnectionReader reader) throws Exception {
        // snippet:start tls-server
        TlsConfig tls = TlsConfig.fromPem(Path.of("cert.pem"), Path.of("key.pem")); // read and checked now
        ServerConfig config = ServerConfig.builder()
                .address(":9443")
                .firstFrameTimeout(Duration.ofSeconds(10)) // bounds the handshake too
                .tls(tls)
                .build();
        TcpServer server = TcpServer.create(config, reader, SenderFactory.queue(1024)).start();
        // snippet:end
        server.close();
    }

    static void mutual(ConnectionReader reader) throws Exception {
        // snippet:start tls-mutual
        TlsConfig tls = TlsConfig.builder()
                .pem(Path.of("cert.pem"), Path.of("key.pem"))
                .trustPem(Path.of("clients-ca.pem"))          // the CAs client certificates must chain to
                .clientAuth(TlsConfig.ClientAuth.REQUIRED)
                .applicationProtocols("myproto/1")            // ALPN, optional
                .watch(Duration.ofSeconds(30))                // reload when the PEM files change
                .build();
        // Every log line of the connection: remoteAddr, then tlsPeer (the client certificate's subject) and the rest,
        // and the client's name: its certificate's CN, unescaped (CN=dev1,O=Acme gives dev1)
        record TlsMeta(String remoteAddress, TlsInfo tls) implements MetaInfo {
            @Override
            public void forEachField(BiConsumer<String, Object> sink) {
                MetaInfo.super.forEachField(sink);
                tls.forEachField(sink);
                tls.peerCommonName().ifPresent(cn -> sink.accept("client", cn));
            }
        }
        TcpServer server = TcpServer.create(ServerConfig.builder().address(":9443").tls(tls).build(),
                        reader, SenderFactory.queue(1024))
                .onConnectionStart(sender -> sender.connection().tls().ifPresent(session ->
                        sender.metaInfo(new TlsMeta(sender.connection().metaInfo().remoteAddress(), session))))
                .start();
        // snippet:end
        server.close();
    }

    static void reload(TlsConfig tls) throws Exception {
        // snippet:start tls-reload
        tls.reload(); // read cert.pem and key.pem again: new handshakes use them, live connections keep theirs
        // snippet:end
    }
}
