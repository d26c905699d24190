package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.TlsConfig;
import io.stcp.testing.TestCerts;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A TLS reader that parks its layer's buffers ({@link TlsTransport#parkBuffers()}, as before each
 * wait for room for a put) between reads of every size, at every point of a record (a header split
 * across the parked buffer, part of a record, several records, decrypted bytes left over), still
 * reads the stream whole and in order; each park leaves a buffer of at most twice its bytes (none
 * when empty); and every pooled buffer taken is given back exactly once. Both TLS versions, on a
 * transport that tells readiness (reads of four records) and on one that does not.
 */
class TlsParkBetweenReadsTest {
    private static final int TOTAL = 2_000_000;

    @ParameterizedTest(name = "{0}, readiness: {1}")
    @CsvSource({"TLSv1.3, true", "TLSv1.3, false", "TLSv1.2, true", "TLSv1.2, false"})
    void readsTheStreamWholeWithParksBetweenReads(String protocol, boolean readiness) throws Exception {
        for (long seed = 0; seed < 4; seed++) {
            readWithParks(protocol, readiness, seed);
        }
    }

    private static void readWithParks(String protocol, boolean readiness, long seed) throws Exception {
        TestCerts certs = TestCerts.get();
        TlsConfig config = TlsConfig.builder().pem(certs.serverCert, certs.serverKey).protocols(protocol).build();
        MemoryTransport serverSide = new MemoryTransport();
        ReadinessDouble socket = new ReadinessDouble(serverSide, ReadinessDouble.Maybe.AFTER_A_FULL_READ);
        long deadline = Nanos.deadlineAfter(Duration.ofSeconds(60));
        long taken = TlsBuffers.takenCount();
        long given = TlsBuffers.givenCount();
        CompletableFuture<Void> wrote = new CompletableFuture<>();
        try (TlsMemoryPair pair = TlsMemoryPair.open(config, serverSide, readiness ? socket : serverSide, 0, deadline)) {
            Thread.ofPlatform().name("tls-park-writer").start(() -> write(pair.client, seed, deadline, wrote));
            TlsTransport server = pair.server;
            Random r = new Random(seed + 1000);
            int got = 0;
            while (got < TOTAL) {
                int len = r.nextInt(3) == 0 ? 1 + r.nextInt(20) : 1 + r.nextInt(40_000);
                byte[] b = new byte[len];
                int n = r.nextBoolean() ? server.readNow(b, 0, len) : server.read(b, 0, len, deadline);
                assertThat(n).as("read at %s", got).isGreaterThanOrEqualTo(0);
                for (int i = 0; i < n; i++) {
                    if (b[i] != expected(got + i)) {
                        throw new AssertionError("seed " + seed + ": byte " + (got + i) + " wrong after parks");
                    }
                }
                got += n;
                if (r.nextInt(3) != 0) {
                    server.parkBuffers();
                    assertParked(server.readBufferCapacity(), server.encryptedHeld(), "encrypted");
                    assertParked(server.appBufferCapacity(), server.availableToRead(), "decrypted");
                }
            }
            wrote.get(30, TimeUnit.SECONDS);
            server.releaseBuffers();
            pair.client.releaseBuffers();
        } finally {
            wrote.handle((v, t) -> null).get(30, TimeUnit.SECONDS);
        }
        assertThat(TlsBuffers.givenCount() - given).as("pooled buffers given back, seed %s", seed)
                .isEqualTo(TlsBuffers.takenCount() - taken);
    }

    /** A parked buffer: none for no bytes, else of less than twice its bytes (or just them). */
    private static void assertParked(int capacity, int held, String which) {
        if (held == 0) {
            assertThat(capacity).as("%s buffer, empty, after a park", which).isZero();
        } else {
            assertThat(capacity).as("%s buffer after a park, %s bytes held", which, held).isLessThan(2 * held + 1);
        }
    }

    /** The client's stream: writes of 1 to 50 bytes and of up to 60,000, byte i {@link #expected(int)}. */
    private static void write(TlsTransport client, long seed, long deadline, CompletableFuture<Void> wrote) {
        try {
            Random r = new Random(seed);
            int sent = 0;
            while (sent < TOTAL) {
                int n = Math.min(TOTAL - sent, r.nextInt(4) == 0 ? 1 + r.nextInt(50) : 1 + r.nextInt(60_000));
                byte[] b = new byte[n];
                for (int i = 0; i < n; i++) {
                    b[i] = expected(sent + i);
                }
                client.write(new ByteBuffer[] {ByteBuffer.wrap(b)}, 0, 1, deadline);
                sent += n;
            }
            wrote.complete(null);
        } catch (Throwable t) {
            wrote.completeExceptionally(t);
        }
    }

    private static byte expected(int i) {
        return (byte) (i * 31 + 7);
    }
}
