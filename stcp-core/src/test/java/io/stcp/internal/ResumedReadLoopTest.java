package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.SenderFactory;
import io.stcp.testing.Echo;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * A read loop that the transport's call back resumed reads what woke it at once: it does not
 * register a suspension first, only for the transport to answer "read instead" (at one frame in
 * flight that was a second registration, with its clock reads and buffer release, per message).
 */
class ResumedReadLoopTest {

    @Test
    void aLoopResumedByInputReadsItWithoutRegisteringASuspensionAgain() throws Exception {
        MemoryTransport memory = new MemoryTransport();
        CallingBackTransport transport = new CallingBackTransport(memory);
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", 1);
        RealConnection c = new RealConnection(null, address, address, true, ConnectionContext.standalone(), x -> transport);
        AtomicInteger frames = new AtomicInteger();
        RealConnectionRunner runner = RealConnectionRunner.of(c, (sender, conn) -> {
            conn.readBytes(conn.readInt());
            frames.incrementAndGet();
        }, SenderFactory.queue(8), () -> {});
        try {
            runner.start();
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(transport::suspended);
            for (int i = 1; i <= 5; i++) {
                transport.feed(Echo.frame(new byte[] {(byte) i}));
                int read = i;
                Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> frames.get() == read && transport.suspended());
            }
            assertThat(transport.callbackRequests()).as("one registration per suspension: before the first frame and after each").isEqualTo(6);
        } finally {
            c.close();
            assertThat(runner.awaitExit(Duration.ofSeconds(10))).isTrue();
        }
    }
}
