package io.stcp.examples.readme;

import io.stcp.ConnectionReader;
import io.stcp.IpLimits;
import io.stcp.PeerCredentials;
import io.stcp.ProxyHeader;
import io.stcp.ProxyProtocol;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import io.stcp.framing.LengthFieldEncoder;
import io.stcp.framing.LengthFieldReader;
import java.time.Duration;

/** The README's "Deploying behind a load balancer": PROXY protocol, per-address limits, Unix sockets, restarts. */
public final class Deployment {
    private Deployment() {}

    private static final LengthFieldEncoder ENCODER = LengthFieldEncoder.standard();
    /** An echo reader of 4-byte length-prefixed frames. */
    static final ConnectionReader ECHO = LengthFieldReader.builder().build((sender, body) -> sender.put(ENCODER.encode(body)));

    static ServerConfig proxied() {
        // snippet:start proxy-protocol
        ServerConfig config = ServerConfig.builder()
                .address(":9000")
                .proxyProtocol(ProxyProtocol.required("10.0.0.0/8"))  // only the balancers' network may send a header
                .build();
        // snippet:end
        return config;
    }

    static final ConnectionReader WHO = (sender, conn) -> {
        // snippet:start proxy-reader
        // In the reader, the sender factory or a hook: the client, not the balancer.
        java.net.SocketAddress client = conn.remoteAddress();        // e.g. 203.0.113.7:51234
        java.net.SocketAddress balancer = conn.proxiedBy().orElse(null);
        String sni = conn.proxyHeader().flatMap(ProxyHeader::authority).orElse("");
        // snippet:end
        sender.put((client + " via " + balancer + " for " + sni).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        int length = conn.readInt(); // the next question, at most 1 KiB: the peer chooses the length
        if (length < 0 || length > 1024) {
            throw new java.net.ProtocolException("bad frame length " + length);
        }
        conn.readBytes(length);
    };

    static ServerConfig limited() {
        // snippet:start ip-limits
        ServerConfig config = ServerConfig.builder()
                .address(":9000")
                .ipLimits(IpLimits.builder()
                        .maxConnPerIp(20)                    // concurrent connections per address
                        .connectionsPerSecondPerIp(5)        // new connections per second per address...
                        .burstPerIp(20)                      // ...after a burst of 20
                        .deny("192.0.2.0/24")
                        .build())
                .build();
        // snippet:end
        return config;
    }

    static TcpServer unix() throws Exception {
        // snippet:start unix-socket
        TcpServer server = TcpServer.create(ServerConfig.builder()
                        .address("unix:/run/echo/echo.sock")
                        .unixSocketPermissions("rw-rw----")  // owner and group may connect
                        .build(), ECHO, SenderFactory.queue(1024))
                .onConnectionStart(sender -> {
                    PeerCredentials who = sender.connection().peerCredentials().orElseThrow();
                    System.out.println("connected: " + who.user().getName());
                })
                .start();
        // snippet:end
        return server;
    }

    static void restart() throws Exception {
        // snippet:start restart
        TcpServer server = TcpServer.create(ServerConfig.builder()
                .address(":9000")
                .reusePort(true)  // the next version binds :9000 while this one runs
                .build(), ECHO, SenderFactory.queue(1024));

        // Serve until SIGTERM (sent once the next version listens); then stop listening, so new
        // clients reach the next version, give these 30s to finish and leave, and shut down the rest.
        boolean allLeft = server.runUntilSignal(Duration.ofSeconds(30), Duration.ofSeconds(5));
        // or, by hand: server.drain(Duration.ofSeconds(30)); server.shutdown(Duration.ofSeconds(5));
        // snippet:end
        System.out.println(allLeft);
    }
}
