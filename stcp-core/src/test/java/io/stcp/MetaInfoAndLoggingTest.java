package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestClient;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

class MetaInfoAndLoggingTest {

    record UserMeta(String remoteAddress, String userId, int version) implements MetaInfo {
        @Override
        public void forEachField(BiConsumer<String, Object> sink) {
            sink.accept("remoteAddr", remoteAddress);
            sink.accept("userId", userId);
            sink.accept("version", version);
        }
    }

    /** A second, unrelated type: Go panicked when the concrete type changed. */
    record DeviceMeta(String remoteAddress, String deviceId) implements MetaInfo {}

    @Test
    void theDefaultMetaInfoIsThePeerAddressAndConnectionLinesCarryIt() throws Exception {
        try (LogCapture logs = LogCapture.of("io.stcp.connection")) {
            BlockingQueue<MetaInfo> seen = new LinkedBlockingQueue<>();
            TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8))
                    .onConnectionStart(s -> seen.add(s.metaInfo()))
                    .start();
            try (TestClient client = TestClient.connect(server.address())) {
                MetaInfo meta = seen.poll(10, TimeUnit.SECONDS);
                assertThat(meta).isInstanceOf(BasicMetaInfo.class);
                assertThat(meta.remoteAddress()).isEqualTo("127.0.0.1:" + client.socket().getLocalPort());
                client.roundTrip(new byte[] {1});
            } finally {
                Echo.stop(server);
            }
            List<ILoggingEvent> starts = logs.events("conn.start");
            List<ILoggingEvent> exits = logs.events("conn.exit");
            assertThat(starts).hasSize(1);
            assertThat(exits).hasSize(1);
            assertThat(starts.get(0).getLevel().toString()).isEqualTo("DEBUG");
            assertThat(LogCapture.fields(exits.get(0))).containsKeys("conn", "remoteAddr", "reason");
        }
    }

    @Test
    void aCustomMetaInfoOfAnyTypeCanBeReplacedConcurrentlyAndAppearsInLogLines() throws Exception {
        try (LogCapture logs = LogCapture.of("io.stcp.connection")) {
            CountDownLatch replaced = new CountDownLatch(1);
            List<Throwable> errors = new CopyOnWriteArrayList<>();
            ConnectionReader reader = (sender, conn) -> {
                int len = conn.readInt();
                conn.readBytes(len);
                List<Thread> writers = new ArrayList<>();
                for (int t = 0; t < 8; t++) {
                    int id = t;
                    writers.add(Thread.ofVirtual().start(() -> {
                        try {
                            for (int v = 0; v < 500; v++) {
                                sender.metaInfo(id % 2 == 0
                                        ? new UserMeta(conn.metaInfo().remoteAddress(), "user-" + id, v)
                                        : new DeviceMeta(conn.metaInfo().remoteAddress(), "dev-" + id));
                                assertThat(sender.metaInfo()).isNotNull();
                            }
                        } catch (Throwable e) {
                            errors.add(e);
                        }
                    }));
                }
                for (Thread w : writers) {
                    w.join();
                }
                sender.metaInfo(new UserMeta(conn.metaInfo().remoteAddress(), "alice", 1));
                replaced.countDown();
                throw new IllegalStateException("done");
            };
            TcpServer server = TcpServer.create(Echo.loopback().build(), reader, SenderFactory.queue(8)).start();
            try (TestClient client = TestClient.connect(server.address())) {
                client.sendFrame(new byte[] {1});
                assertThat(replaced.await(10, TimeUnit.SECONDS)).isTrue();
                assertThat(client.awaitClosedByServer()).isTrue();
            } finally {
                Echo.stop(server);
            }
            assertThat(errors).isEmpty();
            Awaitility.await().until(() -> logs.events("conn.exit").size() == 1);
            Map<String, Object> fields = LogCapture.fields(logs.events("conn.exit").get(0));
            assertThat(fields).containsEntry("userId", "alice").containsEntry("version", 1).containsKey("conn");
        }
    }

    @Test
    void aMetaInfoThatThrowsWhileLoggingBreaksNeitherTheLineNorTheConnection() throws Exception {
        try (LogCapture logs = LogCapture.of("io.stcp.connection")) {
            MetaInfo broken = new MetaInfo() {
                @Override
                public String remoteAddress() {
                    return "x";
                }

                @Override
                public void forEachField(BiConsumer<String, Object> sink) {
                    throw new IllegalStateException("broken meta");
                }
            };
            TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8))
                    .onConnectionStart(s -> s.metaInfo(broken))
                    .start();
            try (TestClient client = TestClient.connect(server.address())) {
                assertThat(client.roundTrip(new byte[] {5})).containsExactly(5);
            } finally {
                Echo.stop(server);
            }
            assertThat(LogCapture.fields(logs.events("conn.exit").get(0))).containsKey("metaError");
        }
    }
}
