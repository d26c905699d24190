package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.testing.LogCapture;
import io.stcp.testing.SocketPair;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * The {@code conn.exit} line counts the messages a close on another thread discarded, however
 * late that close is in counting them: the line waits for it.
 */
class ExitLineCountsOtherThreadsClosesTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    /**
     * A sender that keeps what is put and writes none of it. Its first close takes what it holds
     * (to report it discarded) and closes the connection, then returns only once released; later
     * closes report nothing.
     */
    private static final class LateCounting implements Sender {
        private final Connection connection;
        private final AtomicInteger queued = new AtomicInteger();
        private final AtomicInteger closes = new AtomicInteger();
        final CountDownLatch released = new CountDownLatch(1);
        final CountDownLatch secondClose = new CountDownLatch(1);

        LateCounting(Connection connection) {
            this.connection = connection;
        }

        @Override
        public Connection connection() {
            return connection;
        }

        @Override
        public void put(byte[] bytes) {
            if (closes.get() > 0) {
                throw new SenderClosedException("closed");
            }
            queued.incrementAndGet();
        }

        @Override
        public int close() {
            if (closes.getAndIncrement() > 0) {
                secondClose.countDown();
                return 0;
            }
            int discarded = queued.getAndSet(0);
            connection.close(); // the reader ends, and closes this sender too
            boolean interrupted = false;
            while (true) {
                try {
                    released.await();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            return discarded;
        }

        @Override
        public boolean isClosed() {
            return closes.get() > 0;
        }

        @Override
        public boolean needsSendThread() {
            return false; // nothing to send
        }
    }

    /**
     * {@link ConnectionRunner#exit()} on another thread closes the sender, which discards 3
     * messages, but is told so only after the reader's own close at the end of the connection:
     * the exit line still counts them.
     */
    @Test
    void aCloseOnAnotherThreadThatCountsAfterTheReadersOwnIsOnTheExitLine() throws Exception {
        try (LogCapture logs = LogCapture.of("io.stcp.connection"); SocketPair p = SocketPair.open()) {
            LateCounting sender = new LateCounting(p.server);
            AtomicReference<Thread> readerThread = new AtomicReference<>();
            CountDownLatch reading = new CountDownLatch(1);
            ConnectionRunner runner = ConnectionRunner.create((s, c) -> {
                readerThread.set(Thread.currentThread());
                reading.countDown();
                c.readInt();
            }, sender);
            runner.start();
            for (int i = 0; i < 3; i++) {
                sender.put(new byte[] {(byte) i});
            }
            assertThat(reading.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();

            Thread exiter = Thread.ofPlatform().name("exiter").start(runner::exit);
            try {
                // the reader's own close at the end has reported nothing; then it either logs its line
                // or waits for the close under way on the exiter's thread
                assertThat(sender.secondClose.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
                Awaitility.await().atMost(WAIT).pollInterval(Duration.ofMillis(1)).until(() ->
                        !logs.events("conn.exit").isEmpty() || waits(readerThread.get()));
            } finally {
                sender.released.countDown(); // the exiter's close returns: 3 discarded
            }
            exiter.join(WAIT);
            assertThat(runner.awaitExit(WAIT)).isTrue();

            List<ILoggingEvent> exits = logs.events("conn.exit");
            assertThat(exits).hasSize(1);
            assertThat(LogCapture.fields(exits.get(0))).as("conn.exit").containsEntry("reason", CloseReason.CLOSED)
                    .containsEntry("discarded", 3);
        }
    }

    private static boolean waits(Thread t) {
        Thread.State s = t.getState();
        return s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING;
    }
}
