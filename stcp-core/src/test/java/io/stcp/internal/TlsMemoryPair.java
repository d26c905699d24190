package io.stcp.internal;

import io.stcp.TlsConfig;
import io.stcp.testing.TestCerts;

/**
 * A TLS server and client over two memory transports that pumps join into a pair of sockets, the
 * handshake done; closing it closes both ends and stops the pumps. The server's side may be seen
 * through a double ({@code socket}: a {@link ReadinessDouble}, say), which the test keeps.
 */
final class TlsMemoryPair implements AutoCloseable {
    final MemoryTransport serverSide;
    final MemoryTransport clientSide = new MemoryTransport();
    final TlsTransport server;
    final TlsTransport client;
    private final Thread toClient;
    private final Thread toServer;

    /** The test certificates' server, on {@code serverSide} seen through {@code socket}, with a write timeout. */
    static TlsMemoryPair open(TlsConfig serverConfig, MemoryTransport serverSide, Transport socket,
                              long writeTimeoutNanos, long deadline) throws Exception {
        return new TlsMemoryPair(RealTlsConfig.forServer(serverConfig), serverSide, socket, writeTimeoutNanos, deadline);
    }

    /** The test certificates' server with the defaults, on {@code serverSide} seen through {@code socket}. */
    static TlsMemoryPair open(MemoryTransport serverSide, Transport socket, long deadline) throws Exception {
        TestCerts certs = TestCerts.get();
        return open(TlsConfig.fromPem(certs.serverCert, certs.serverKey), serverSide, socket, 0, deadline);
    }

    private TlsMemoryPair(RealTlsConfig serverTls, MemoryTransport serverSide, Transport socket, long writeTimeoutNanos,
                          long deadline) throws Exception {
        RealTlsConfig clientTls = RealTlsConfig.forClient(
                TlsConfig.clientBuilder().sslContext(TestCerts.get().clientContext()).build());
        this.serverSide = serverSide;
        server = new TlsTransport(socket, serverTls.newServerEngine(), () -> writeTimeoutNanos);
        client = new TlsTransport(clientSide, clientTls.newClientEngine("localhost", 443), () -> 0);
        toClient = MemoryPump.pump(serverSide, clientSide);
        toServer = MemoryPump.pump(clientSide, serverSide);
        try {
            MemoryPump.handshake(server, client, deadline);
        } catch (Exception | Error e) {
            close();
            throw e;
        }
    }

    /** Stops the pump toward the server: the test hands the client's records over from here on. */
    void stopPumpToServer() throws InterruptedException {
        toServer.interrupt();
        toServer.join();
    }

    /** Stops both pumps: the test moves the records both ways from here on. */
    void stopPumps() throws InterruptedException {
        stopPumpToServer();
        toClient.interrupt();
        toClient.join();
    }

    @Override
    public void close() throws InterruptedException {
        server.close();
        client.close();
        stopPumps();
    }
}
