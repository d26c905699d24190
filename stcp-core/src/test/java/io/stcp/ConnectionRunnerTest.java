package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.Echo;
import io.stcp.testing.SocketPair;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/** The runner on a client-side socket the application dialled itself. */
class ConnectionRunnerTest {

    @Test
    void runsAReaderAndSenderOnADialledConnection() throws Exception {
        TcpServer server = Echo.start();
        try (SocketChannel dialled = SocketChannel.open(server.address())) {
            Connection conn = Connection.of(dialled);
            QueueSender sender = QueueSender.create(conn, 64);
            List<String> replies = new CopyOnWriteArrayList<>();
            ConnectionRunner runner = ConnectionRunner.create((s, c) -> {
                replies.add(new String(c.readBytes(c.readInt())));
            }, sender);
            AtomicInteger exits = new AtomicInteger();
            runner.addExitHook(s -> exits.incrementAndGet());
            runner.start();
            runner.start(); // no effect
            for (int i = 0; i < 10; i++) {
                sender.put(Echo.frame(("hello " + i).getBytes()));
            }
            org.awaitility.Awaitility.await().until(() -> replies.size() == 10);
            assertThat(replies).startsWith("hello 0").endsWith("hello 9");

            runner.exit();
            runner.exit();
            assertThat(runner.awaitExit(Duration.ofSeconds(10))).isTrue();
            assertThat(exits).hasValue(1);
            assertThatThrownBy(() -> runner.addStartHook(s -> {})).isInstanceOf(IllegalStateException.class);
        } finally {
            Echo.stop(server);
        }
    }

    @RepeatedTest(10)
    void exitBeforeTheReaderRunsStillRunsStartThenExitHooksOnce() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            List<String> events = new CopyOnWriteArrayList<>();
            ConnectionRunner runner = ConnectionRunner.create((s, c) -> events.add("reader"), QueueSender.create(p.server, 8))
                    .addStartHook(s -> events.add("start"))
                    .addExitHook(s -> events.add("exit"));
            runner.exit();
            runner.start();
            assertThat(runner.awaitExit(Duration.ofSeconds(10))).isTrue();
            assertThat(events).containsExactly("start", "exit");
        }
    }

    @Test
    void exitInterruptsAReaderBlockedOutsideTheConnection() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            java.util.concurrent.CountDownLatch inReader = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.CountDownLatch never = new java.util.concurrent.CountDownLatch(1);
            ConnectionRunner runner = ConnectionRunner.create((s, c) -> {
                inReader.countDown();
                never.await();
            }, QueueSender.create(p.server, 8));
            runner.start();
            assertThat(inReader.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            runner.exit();
            assertThat(runner.awaitExit(Duration.ofSeconds(10))).isTrue();
            assertThat(p.client.read(ByteBuffer.allocate(1))).isEqualTo(-1);
        }
    }
}
