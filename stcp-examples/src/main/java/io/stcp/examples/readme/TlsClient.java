package io.stcp.examples.readme;

import io.stcp.ClientConfig;
import io.stcp.ConnectionReader;
import io.stcp.SenderFactory;
import io.stcp.TcpClient;
import io.stcp.TlsConfig;
import java.nio.file.Path;

/** The README's client over TLS and over a Unix socket. */
public final class TlsClient {
    private TlsClient() {}

    static void tls(ConnectionReader reader) throws Exception {
        // snippet:start client-tls
        TlsConfig tls = TlsConfig.clientBuilder()
                .trustPem(Path.of("ca.pem"))                       // default: the JDK's CAs
                .pem(Path.of("client.pem"), Path.of("client.key")) // a client certificate, for mutual TLS; optional
                .applicationProtocols("myproto/1")                 // ALPN, optional
                .build();                                          // reads and checks them now
        TcpClient client = TcpClient.create(ClientConfig.builder("chat.example.com:9443") // SNI, certificate checked for it
                        .tls(tls)
                        .build(), reader, SenderFactory.queue(256))
                .onConnect(sender -> System.out.println(sender.connection().tls().orElseThrow().protocol()))
                .start();
        // snippet:end
        client.close();
    }

    static void unix(ConnectionReader reader) {
        // snippet:start client-unix
        TcpClient client = TcpClient.create(ClientConfig.builder("unix:/run/echo/echo.sock").build(),
                reader, SenderFactory.queue(256)).start();
        // snippet:end
        client.close();
    }
}
