package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ConnectionReader;
import io.stcp.QueueSender;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A read buffer is only ever its one connection's: many connections pipelining frames of random
 * sizes (1 byte to 70 KiB, seeded) through an echo that relays bodies as the benchmarks' does
 * (stcp-examples' {@code EchoServer.READER}: replies lent from the read buffer and written by the
 * reader, {@link QueueSender.Options#batchReplies}) get back exactly their own bytes. The readers
 * go round the pools meanwhile: more connections than wide buffers (some fall back to large
 * ones), turns that end in give-ways with a value half read, waits with a few bytes kept small.
 * A buffer read into by two connections at once, or given back while a reply lent from it was
 * still to be written, would show as another connection's bytes (each writes its own), a wrong
 * length, or a wide buffer in the pool twice. Run again on epoll by stcp-epoll, where the buffers
 * are pooled; on the JDK's transport each reader keeps its own.
 */
class ReadBufferIntegrityTest {
    private static final int CONNECTIONS = 24;
    private static final int BYTES_PER_CONNECTION = 3 << 19; // 1.5 MiB each way
    private static final int MAX_BODY = 70 * 1024;
    private static final long SEED = 0x5EED_F00DL;

    /** As the benchmarks' echo: small bodies read into the reply, larger ones relayed (lent from the read buffer when they fit). */
    private static final ConnectionReader RELAYING_ECHO = (sender, conn) -> {
        int length = conn.readInt();
        if (length <= 4096) {
            byte[] frame = new byte[4 + length];
            conn.readFully(frame, 4, length);
            sender.put(ByteBuffer.wrap(frame).putInt(length).array());
        } else {
            sender.relay(conn, ByteBuffer.allocate(4).putInt(length).array(), length);
        }
    };

    @Test
    void everyConnectionGetsBackExactlyItsOwnBytesWhilePipeliningFramesOfRandomSizes() throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().build(), RELAYING_ECHO,
                QueueSender.options().capacity(64).writeInline(true).batchReplies(true)::build).start();
        List<TestClient> clients = new ArrayList<>();
        List<Future<Long>> verified = new ArrayList<>();
        List<Future<Void>> sent = new ArrayList<>();
        try {
            try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
                try {
                    for (int c = 0; c < CONNECTIONS; c++) {
                        TestClient client = TestClient.connect(server.address());
                        clients.add(client);
                        Frames frames = new Frames(c);
                        sent.add(threads.submit(() -> send(client, new Frames(frames.connection))));
                        verified.add(threads.submit(() -> receive(client, frames)));
                    }
                    for (int c = 0; c < CONNECTIONS; c++) {
                        assertThat(verified.get(c).get(20, TimeUnit.SECONDS)).as("bytes verified on connection %d", c)
                                .isGreaterThanOrEqualTo(BYTES_PER_CONNECTION);
                        sent.get(c).get(20, TimeUnit.SECONDS);
                    }
                } finally {
                    for (TestClient client : clients) {
                        client.close(); // unblocks a writer whose reader failed
                    }
                }
            }
        } finally {
            Echo.stop(server);
        }
        assertThat(takeAllWideAndGiveBack()).as("wide buffers in the pool more than once").isEmpty();
    }

    /** The frames of one connection, as its writer sends them and its reader expects them back: seeded, its own. */
    private static final class Frames {
        final int connection;
        final SplittableRandom random;
        long bytes;

        Frames(int connection) {
            this.connection = connection;
            this.random = new SplittableRandom(SEED + 7919L * connection);
        }

        /** The next body, or null after {@link #BYTES_PER_CONNECTION}: mostly sizes a reply is lent at, some tiny, some past a chunk. */
        byte[] next() {
            if (bytes >= BYTES_PER_CONNECTION) {
                return null;
            }
            int kind = random.nextInt(4);
            int size = kind == 0 ? 1 + random.nextInt(64) : kind == 1 ? 1 + random.nextInt(4096) : 1 + random.nextInt(MAX_BODY);
            byte[] body = new byte[size];
            random.nextBytes(body);
            body[0] = (byte) connection; // whose it is, at a glance in a failure
            bytes += size;
            return body;
        }
    }

    /** Writes the frames in bursts of up to a few hundred KiB, so the server reads whole turns at once. */
    private static Void send(TestClient client, Frames frames) throws IOException {
        ByteArrayOutputStream burst = new ByteArrayOutputStream();
        SplittableRandom bursts = new SplittableRandom(SEED ^ frames.connection);
        int limit = 1 + bursts.nextInt(384 * 1024);
        for (byte[] body; (body = frames.next()) != null; ) {
            burst.write(ByteBuffer.allocate(4).putInt(body.length).array());
            burst.write(body);
            if (burst.size() >= limit) {
                client.sendRaw(burst.toByteArray());
                burst.reset();
                limit = 1 + bursts.nextInt(384 * 1024);
            }
        }
        client.sendRaw(burst.toByteArray());
        return null;
    }

    /** Reads every echoed frame and compares it with what was sent; returns the body bytes verified. */
    private static long receive(TestClient client, Frames expected) throws IOException {
        long verified = 0;
        int frame = 0;
        for (byte[] body; (body = expected.next()) != null; frame++) {
            byte[] echoed = client.readFrame();
            int at = Arrays.mismatch(body, echoed);
            assertThat(at).as("connection %d, frame %d (%d bytes sent, %d back): first wrong byte at %d (the first byte back names connection %d)",
                    expected.connection, frame, body.length, echoed.length, at, echoed.length > 0 ? echoed[0] : -1)
                    .isEqualTo(-1);
            verified += body.length;
        }
        return verified;
    }

    /**
     * Takes every wide buffer the pool holds or can make, and gives them back: those taken more
     * than once (a buffer given back twice is in two slots, and two readers would share it).
     */
    private static List<byte[]> takeAllWideAndGiveBack() {
        Set<byte[]> distinct = Collections.newSetFromMap(new IdentityHashMap<>());
        List<byte[]> all = new ArrayList<>();
        List<byte[]> twice = new ArrayList<>();
        for (byte[] b; all.size() < 4 * ReadBuffers.WIDE_COUNT && (b = ReadBuffers.takeWide()) != null; ) {
            all.add(b);
            if (!distinct.add(b)) {
                twice.add(b);
            }
        }
        distinct.forEach(ReadBuffers::give);
        return twice;
    }
}
