package io.stcp.internal;

import io.stcp.TlsConfig;
import io.stcp.testing.TestCerts;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Joins two memory transports into a pair of sockets, one direction per thread; and shakes hands
 * over such a pair.
 */
final class MemoryPump {

    private MemoryPump() {}

    /** The TLS handshake of both ends at once, within {@code deadline}: the client's on a thread of its own. */
    static void handshake(TlsTransport server, TlsTransport client, long deadline) throws Exception {
        CompletableFuture<Void> clientHandshake = CompletableFuture.runAsync(() -> {
            try {
                client.handshake(deadline);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }, r -> Thread.ofVirtual().start(r));
        server.handshake(deadline);
        clientHandshake.get(20, TimeUnit.SECONDS);
    }

    /**
     * The test certificates' server on {@code socket}, its handshake begun on a thread of its own
     * (within 30 s): the test plays the client by hand, and ends it with {@link TlsTransport#close()}.
     */
    static TlsTransport serverShakingHands(Transport socket, CompletableFuture<Void> handshake) throws Exception {
        TestCerts certs = TestCerts.get();
        RealTlsConfig serverTls = RealTlsConfig.forServer(TlsConfig.fromPem(certs.serverCert, certs.serverKey));
        TlsTransport server = new TlsTransport(socket, serverTls.newServerEngine(), () -> 0);
        Thread.ofVirtual().start(() -> {
            try {
                server.handshake(Nanos.deadlineAfter(Duration.ofSeconds(30)));
                handshake.complete(null);
            } catch (Throwable t) {
                handshake.completeExceptionally(t);
            }
        });
        return server;
    }

    /** Moves what {@code from} writes into {@code to}'s input, until interrupted or closed. */
    static Thread pump(MemoryTransport from, MemoryTransport to) {
        return Thread.ofVirtual().start(() -> {
            try {
                while (from.isOpen()) {
                    byte[] first = from.takeOutput(1, TimeUnit.MILLISECONDS.toNanos(20));
                    if (first.length > 0) {
                        byte[] rest = from.takeOutput();
                        to.feed(ByteBuffer.allocate(first.length + rest.length).put(first).put(rest).array());
                    }
                }
            } catch (InterruptedException | IllegalStateException e) {
                // the test is over
            }
        });
    }
}
