package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

class HooksAndIsolationTest {

    @RepeatedTest(20)
    void startHooksFinishBeforeTheReaderAndExitHooksRunOnceAfterBothLoops() throws Exception {
        List<String> events = new CopyOnWriteArrayList<>();
        BlockingQueue<Boolean> exited = new LinkedBlockingQueue<>();
        ConnectionReader failing = (sender, conn) -> {
            events.add("reader");
            throw new IllegalStateException("reader fails at once");
        };
        TcpServer server = TcpServer.create(Echo.loopback().build(), failing, SenderFactory.queue(8))
                .onConnectionStart(s -> {
                    Thread.yield(); // give an early exit every chance to overtake
                    events.add("start");
                })
                .onConnectionExit(s -> {
                    events.add("exit");
                    exited.add(s.isClosed() && !s.connection().isOpen());
                })
                .start();
        try (TestClient client = TestClient.connect(server.address())) {
            assertThat(exited.poll(10, TimeUnit.SECONDS)).as("sender and socket closed when exit hook runs").isTrue();
            assertThat(client.awaitClosedByServer()).isTrue();
        } finally {
            Echo.stop(server);
        }
        assertThat(events).containsExactly("start", "reader", "exit");
    }

    @Test
    void aThrowingStartHookIsLoggedAndTheConnectionIsStillServed() throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8))
                .onConnectionStart(s -> {
                    throw new IllegalStateException("start hook fails");
                })
                .start();
        try (TestClient client = TestClient.connect(server.address())) {
            assertThat(client.roundTrip(new byte[] {1, 2})).containsExactly(1, 2);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aThrowingExitHookDoesNotKeepTheConnectionCounted() throws Exception {
        AtomicInteger exits = new AtomicInteger();
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8))
                .onConnectionExit(s -> {
                    exits.incrementAndGet();
                    throw new IllegalStateException("exit hook fails");
                })
                .start();
        try {
            for (int i = 0; i < 3; i++) {
                try (TestClient client = TestClient.connect(server.address())) {
                    client.roundTrip(new byte[] {9});
                }
            }
            org.awaitility.Awaitility.await().until(() -> exits.get() == 3 && server.connectionCount() == 0);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void exitHooksRunEvenWhenTheMetaInfoThrowsAnErrorWhileTheExitLineIsWritten() throws Exception {
        BlockingQueue<CloseReason> exits = new LinkedBlockingQueue<>();
        ConnectionReader reader = (sender, conn) -> {
            conn.readInt();
            sender.metaInfo(new MetaInfo() {
                @Override
                public String remoteAddress() {
                    return "broken";
                }

                @Override
                public void forEachField(java.util.function.BiConsumer<String, Object> sink) {
                    throw new StackOverflowError("a MetaInfo that recurses");
                }
            });
            throw new IllegalArgumentException("bad request"); // a failure: the conn.exit line is a WARN
        };
        TcpServer server = TcpServer.create(Echo.loopback().build(), reader, SenderFactory.queue(8))
                .onConnectionExit(s -> exits.add(s.connection().closeReason()))
                .start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(new byte[4]);
            assertThat(client.awaitClosedByServer()).isTrue();
            assertThat(exits.poll(10, TimeUnit.SECONDS)).as("the exit hook ran").isEqualTo(CloseReason.FAILED);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aThrowingReaderEndsOnlyItsOwnConnection() throws Exception {
        ConnectionReader reader = (sender, conn) -> {
            int len = conn.readInt();
            byte[] body = conn.readBytes(len);
            if (body[0] == 'X') {
                throw new IllegalArgumentException("bad request");
            }
            sender.put(Echo.frame(body));
        };
        TcpServer server = TcpServer.create(Echo.loopback().build(), reader, SenderFactory.queue(8)).start();
        try (TestClient good = TestClient.connect(server.address());
             TestClient bad = TestClient.connect(server.address())) {
            assertThat(good.roundTrip(new byte[] {'a'})).containsExactly('a');
            bad.sendFrame(new byte[] {'X'});
            assertThat(bad.awaitClosedByServer()).isTrue();
            assertThat(good.roundTrip(new byte[] {'b'})).containsExactly('b');
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aThrowingOrNullSenderFactoryClosesThatConnectionAndTheServerCarriesOn() throws Exception {
        AtomicInteger made = new AtomicInteger();
        AtomicInteger hooks = new AtomicInteger();
        SenderFactory flaky = conn -> switch (made.incrementAndGet()) {
            case 1 -> throw new IllegalStateException("factory fails");
            case 2 -> null;
            default -> QueueSender.create(conn, 8);
        };
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, flaky)
                .onConnectionStart(s -> hooks.incrementAndGet())
                .onConnectionExit(s -> hooks.incrementAndGet())
                .start();
        try {
            try (TestClient first = TestClient.connect(server.address())) {
                assertThat(first.awaitClosedByServer()).isTrue();
            }
            try (TestClient second = TestClient.connect(server.address())) {
                assertThat(second.awaitClosedByServer()).isTrue();
            }
            org.awaitility.Awaitility.await().until(() -> server.connectionCount() == 0);
            assertThat(hooks).as("no hooks for a connection without a sender").hasValue(0);
            try (TestClient third = TestClient.connect(server.address())) {
                assertThat(third.roundTrip(new byte[] {3})).containsExactly(3);
            }
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aReaderThatNeverReadsIsFailedInsteadOfSpinning() throws Exception {
        BlockingQueue<Boolean> exited = new LinkedBlockingQueue<>();
        AtomicInteger calls = new AtomicInteger();
        ConnectionReader spinning = (sender, conn) -> calls.incrementAndGet();
        TcpServer server = TcpServer.create(Echo.loopback().build(), spinning, SenderFactory.queue(8))
                .onConnectionExit(s -> exited.add(true))
                .start();
        try (TestClient client = TestClient.connect(server.address())) {
            assertThat(exited.poll(10, TimeUnit.SECONDS)).isTrue();
            assertThat(calls.get()).isBetween(1000, 1000 * 100);
            assertThat(client.awaitClosedByServer()).isTrue();
        } finally {
            Echo.stop(server);
        }
    }
}
