package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.TestCerts;
import io.stcp.testing.TlsClient;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Data over TLS as readers see it: frames larger than a record, frames spanning many records, a
 * half-close with close_notify after which the replies still arrive, many connections at once.
 */
class TlsStreamsTest {
    private static TestCerts certs;

    @BeforeAll
    static void certificates() {
        certs = TestCerts.get();
    }

    private static TcpServer start(TlsConfig tls, BlockingQueue<CloseReason> ends) throws Exception {
        return TcpServer.create(Echo.loopback().tls(tls).build(), Echo.READER,
                        QueueSender.options().capacity(1024).maxBytes(64 << 20)::build)
                .onConnectionExit(s -> ends.add(s.connection().closeReason())).start();
    }

    @Test
    void framesOfSixteenKibibytesAndMoreAndOneMebibyteFramesSpanningRecordsComeBackWhole() throws Exception {
        TcpServer server = start(TlsConfig.fromPem(certs.serverCert, certs.serverKey), new LinkedBlockingQueue<>());
        Random random = new Random(11);
        try (TlsClient client = TlsClient.connect(server.address(), certs.clientContext())) {
            for (int size : new int[] {16 * 1024 - 4, 16 * 1024, 16 * 1024 + 1, 40_000, 1 << 20}) {
                byte[] payload = new byte[size];
                random.nextBytes(payload);
                assertThat(client.roundTrip(payload)).as("%d bytes", size).isEqualTo(payload);
            }
            // Pipelined: many frames written before any reply is read.
            List<byte[]> sent = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                byte[] payload = new byte[1 + random.nextInt(30_000)];
                random.nextBytes(payload);
                sent.add(payload);
                client.sendFrame(payload);
            }
            for (byte[] payload : sent) {
                assertThat(client.readFrame()).isEqualTo(payload);
            }
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aHalfCloseWithCloseNotifyEndsTheStreamAndTheRepliesStillArrive() throws Exception {
        BlockingQueue<CloseReason> ends = new LinkedBlockingQueue<>();
        TcpServer server = start(TlsConfig.fromPem(certs.serverCert, certs.serverKey), ends);
        try (TlsClient client = TlsClient.connect(server.address(), certs.clientContext(), "TLSv1.3")) {
            for (int i = 0; i < 100; i++) {
                client.sendFrame(new byte[] {(byte) i});
            }
            client.socket().shutdownOutput(); // TLS 1.3 half-close: close_notify, the input stays open
            for (int i = 0; i < 100; i++) {
                assertThat(client.readFrame()).containsExactly((byte) i);
            }
            assertThat(client.isClosedByServer()).as("the server's close_notify after the replies").isTrue();
            assertThat(ends.poll(10, TimeUnit.SECONDS)).isEqualTo(CloseReason.PEER_CLOSED);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void manyConnectionsHandshakeAndEchoAtOnce() throws Exception {
        TlsConfig tls = TlsConfig.fromPem(certs.serverCert, certs.serverKey);
        TcpServer server = start(tls, new LinkedBlockingQueue<>());
        int clients = 100;
        AtomicInteger echoed = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
        javax.net.ssl.SSLContext context = certs.clientContext();
        try {
            for (int i = 0; i < clients; i++) {
                byte[] payload = ("client " + i).getBytes();
                threads.add(Thread.ofVirtual().start(() -> {
                    try (TlsClient c = TlsClient.connect(server.address(), context)) {
                        for (int j = 0; j < 10; j++) {
                            assertThat(c.roundTrip(payload)).isEqualTo(payload);
                        }
                        echoed.incrementAndGet();
                    } catch (Throwable t) {
                        failures.add(t);
                    }
                }));
            }
            for (Thread t : threads) {
                t.join(TimeUnit.SECONDS.toMillis(60));
            }
            assertThat(failures).isEmpty();
            assertThat(echoed.get()).isEqualTo(clients);
            assertThat(tls.handshakes()).isEqualTo(clients);
        } finally {
            Echo.stop(server);
        }
    }
}
