package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Input arriving just as a read deadline passes, over and over: on a transport that suspends idle
 * read loops, the deadline and the input each try to resume the loop, and the reader must still
 * run on one thread at a time, see every request once, in order, and keep its connection. The
 * reader catches its read timeouts and goes on, so a deadline that is not raced is harmless too.
 */
class ReadDeadlineRaceTest {
    private static final int CONNECTIONS = 16;
    private static final int REQUESTS = 150;

    @Test
    void inputThatRacesTheReadDeadlineIsReadOnceByOneReaderThread() throws Exception {
        Map<Long, AtomicInteger> inReader = new ConcurrentHashMap<>(); // per connection
        AtomicInteger overlaps = new AtomicInteger();
        AtomicLong timeouts = new AtomicLong();
        ConnectionReader reader = (sender, conn) -> {
            AtomicInteger mine = inReader.computeIfAbsent(conn.id(), id -> new AtomicInteger());
            if (mine.incrementAndGet() != 1) {
                overlaps.incrementAndGet();
            }
            try {
                conn.readTimeout(Duration.ofMillis(8)); // the watch's tick is an eighth of it
                int request;
                try {
                    request = conn.readInt();
                } catch (ReadTimeoutException e) {
                    timeouts.incrementAndGet();
                    return; // called again: the input stays as it was
                }
                sender.put(new byte[] {(byte) (request >>> 24), (byte) (request >>> 16), (byte) (request >>> 8),
                        (byte) request});
            } finally {
                mine.decrementAndGet();
            }
        };
        TcpServer server = TcpServer.create(Echo.loopback().build(), reader,
                SenderFactory.requestResponse(8)).start();
        try {
            List<Thread> clients = new ArrayList<>();
            List<Throwable> failures = new CopyOnWriteArrayList<>();
            for (int c = 0; c < CONNECTIONS; c++) {
                clients.add(Thread.ofPlatform().start(() -> {
                    try (Socket s = new Socket("127.0.0.1", server.address().getPort())) {
                        s.setSoTimeout(10_000);
                        s.setTcpNoDelay(true);
                        DataOutputStream out = new DataOutputStream(s.getOutputStream());
                        DataInputStream in = new DataInputStream(s.getInputStream());
                        for (int i = 0; i < REQUESTS; i++) {
                            // Pauses around the read timeout, so input often comes as the deadline passes.
                            TimeUnit.MICROSECONDS.sleep(ThreadLocalRandom.current().nextInt(4_000, 12_000));
                            out.writeInt(i);
                            assertThat(in.readInt()).isEqualTo(i);
                        }
                    } catch (Throwable t) {
                        failures.add(t);
                    }
                }));
            }
            for (Thread t : clients) {
                t.join(TimeUnit.SECONDS.toMillis(60));
                assertThat(t.isAlive()).as("a client never finished").isFalse();
            }
            assertThat(failures).isEmpty();
            assertThat(overlaps.get()).as("reader calls overlapping on one connection").isZero();
            assertThat(timeouts.get()).as("deadlines passed between requests").isPositive();
            assertThat(server.stats().closed(CloseReason.READ_TIMEOUT)).isZero();
        } finally {
            Echo.stop(server);
        }
    }
}
