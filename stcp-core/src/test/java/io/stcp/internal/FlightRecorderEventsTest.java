package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ConnectionReader;
import io.stcp.OverflowPolicy;
import io.stcp.QueueSender;
import io.stcp.SendException;
import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.framing.FrameTooLongException;
import io.stcp.testing.Echo;
import io.stcp.testing.OwnJvm;
import io.stcp.testing.TestClient;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** stcp's Flight Recorder events, recorded around real connections and read back from the file. */
class FlightRecorderEventsTest {
    private static final byte[] MEGABYTE = new byte[1 << 20];

    /**
     * The first use of an event type registers it, 130–330 ms on a cold JVM under a class
     * initialization lock: a server and a client register them in {@code start()}, so that no
     * connection waits. In a JVM of its own, where nothing has registered them yet.
     */
    @ParameterizedTest
    @ValueSource(strings = {"server", "client"})
    void startRegistersTheEventTypesBeforeAnyConnection(String what, @TempDir Path dir) throws Exception {
        String output = OwnJvm.run(dir.resolve("probe.log"), 60, List.of(), JfrRegistrationProbe.class, what);
        assertThat(output).contains("before=false", "after=true");
    }

    @Test
    void aRecordingHoldsEachConnectionsStartAndExitAndTheFailuresOnTheWay(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("rec.jfr");
        long echoConn;
        long badConn;
        long slowConn;
        long fullConn;
        long timedOutConn;
        try (Recording recording = new Recording()) {
            for (String name : List.of("ConnectionStart", "ConnectionExit", "SlowConsumer", "QueueFull", "WriteTimeout",
                    "ProtocolError", "AcceptBackoff")) {
                recording.enable("stcp." + name).withoutThreshold();
            }
            recording.start();
            echoConn = echoTwoFrames();
            badConn = sendAnOversizedFrame();
            slowConn = overflow(OverflowPolicy.CLOSE_CONNECTION, Duration.ofSeconds(5));
            fullConn = overflow(OverflowPolicy.FAIL, Duration.ofSeconds(5));
            timedOutConn = overflow(OverflowPolicy.FAIL, Duration.ofMillis(200)); // a big queue: the write times out
            failTwoAcceptsThenServe();
            recording.stop();
            recording.dump(file);
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(file);

        RecordedEvent start = only(events, "stcp.ConnectionStart", echoConn);
        assertThat(start.getString("remoteAddress")).startsWith("127.0.0.1:");
        assertThat(start.getString("localAddress")).startsWith("127.0.0.1:");
        assertThat(start.getString("transport")).isIn("jdk", "epoll");
        RecordedEvent exit = only(events, "stcp.ConnectionExit", echoConn);
        assertThat(exit.getString("reason")).isEqualTo("PEER_CLOSED");
        assertThat(exit.getBoolean("failure")).isFalse();
        assertThat(exit.getLong("bytesRead")).isEqualTo(2 * (4 + 3));
        assertThat(exit.getLong("bytesWritten")).isEqualTo(2 * (4 + 3));
        assertThat(exit.getDuration("lifetime")).isPositive()
                .isGreaterThanOrEqualTo(Duration.between(start.getStartTime(), exit.getStartTime()).minusMillis(50));

        assertThat(only(events, "stcp.ConnectionExit", badConn).getString("reason")).isEqualTo("PROTOCOL_ERROR");
        RecordedEvent protocol = only(events, "stcp.ProtocolError", badConn);
        assertThat(protocol.getString("exception")).isEqualTo(FrameTooLongException.class.getName());
        assertThat(protocol.getString("message")).contains("1000000");

        assertThat(only(events, "stcp.SlowConsumer", slowConn).getInt("discarded")).isPositive();
        assertThat(only(events, "stcp.ConnectionExit", slowConn).getString("reason")).isEqualTo("SLOW_CONSUMER");

        RecordedEvent full = only(events, "stcp.QueueFull", fullConn);
        assertThat(full.getBoolean("reader")).as("put from the start hook, on the reader thread").isTrue();
        assertThat(full.getString("message")).contains("send queue full");

        RecordedEvent timeout = only(events, "stcp.WriteTimeout", timedOutConn);
        assertThat(timeout.getDuration("timeout")).isEqualTo(Duration.ofMillis(200));
        assertThat(timeout.getLong("bytesWritten")).isNotNegative();
        RecordedEvent timedOutExit = only(events, "stcp.ConnectionExit", timedOutConn);
        assertThat(timedOutExit.getString("reason")).isEqualTo("WRITE_TIMEOUT");
        assertThat(timedOutExit.getBoolean("failure")).isTrue();

        List<RecordedEvent> backoffs = of(events, "stcp.AcceptBackoff");
        assertThat(backoffs).extracting(e -> e.getInt("failures")).containsExactlyInAnyOrder(1, 2); // the file is not in time order
        assertThat(backoffs).allSatisfy(e -> {
            assertThat(e.getString("error")).contains("EMFILE (injected)");
            assertThat(e.getDuration("delay")).isPositive();
            assertThat(e.getDuration()).as("the event spans the sleep").isGreaterThanOrEqualTo(e.getDuration("delay"));
        });
    }

    private static long echoTwoFrames() throws Exception {
        BlockingQueue<Long> ids = new LinkedBlockingQueue<>();
        BlockingQueue<Long> exited = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8))
                .onConnectionStart(s -> ids.add(s.connection().id()))
                .onConnectionExit(s -> exited.add(s.connection().id()))
                .start();
        try {
            try (TestClient c = TestClient.connect(server.address())) {
                assertThat(c.roundTrip(new byte[] {1, 2, 3})).containsExactly(1, 2, 3);
                assertThat(c.roundTrip(new byte[] {4, 5, 6})).containsExactly(4, 5, 6);
            }
            assertThat(exited.poll(20, TimeUnit.SECONDS)).as("ended by the client's close").isNotNull();
        } finally {
            Echo.stop(server);
        }
        return ids.take();
    }

    private static long sendAnOversizedFrame() throws Exception {
        BlockingQueue<Long> ids = new LinkedBlockingQueue<>();
        ConnectionReader reader = (sender, conn) -> {
            int length = conn.readInt();
            if (length > 100) {
                throw new FrameTooLongException("frame of " + length + " bytes exceeds 100");
            }
            sender.put(Echo.frame(conn.readBytes(length)));
        };
        TcpServer server = TcpServer.create(Echo.loopback().build(), reader, SenderFactory.queue(8))
                .onConnectionStart(s -> ids.add(s.connection().id())).start();
        try (TestClient c = TestClient.connect(server.address())) {
            c.sendRaw(new byte[] {0, 15, 66, 64}); // 1,000,000
            assertThat(c.awaitClosedByServer()).isTrue();
        } finally {
            Echo.stop(server);
        }
        return ids.take();
    }

    /**
     * A start hook (on the reader thread, without reader backpressure) queues megabytes for a client
     * that never reads, until a put fails or the connection closes under it. With FAIL the client
     * closes once a put was refused; otherwise the server ends the connection (slow consumer,
     * write timeout) while the client still reads nothing.
     */
    private static long overflow(OverflowPolicy policy, Duration writeTimeout) throws Exception {
        BlockingQueue<Long> ids = new LinkedBlockingQueue<>();
        BlockingQueue<SendException> refused = new LinkedBlockingQueue<>();
        BlockingQueue<Long> exited = new LinkedBlockingQueue<>();
        boolean timesOut = writeTimeout.toMillis() < 1000;
        int capacity = timesOut ? 1024 : 4;
        TcpServer server = TcpServer.create(Echo.loopback().writeTimeout(writeTimeout).build(), Echo.READER,
                        QueueSender.options().capacity(capacity).maxBytes(0).overflow(policy).readerBackpressure(false)::build)
                .onConnectionStart(s -> {
                    ids.add(s.connection().id());
                    try {
                        for (int i = 0; i < capacity + 256; i++) {
                            s.put(MEGABYTE);
                        }
                    } catch (SendException e) {
                        refused.add(e);
                    }
                })
                .onConnectionExit(s -> exited.add(s.connection().id()))
                .start();
        try (TestClient c = TestClient.connect(server.address())) {
            if (policy == OverflowPolicy.FAIL && !timesOut) {
                assertThat(refused.poll(20, TimeUnit.SECONDS)).as("a put refused").isNotNull();
            } else {
                assertThat(exited.poll(20, TimeUnit.SECONDS)).as("the server ended the connection").isNotNull();
            }
        } finally {
            Echo.stop(server);
        }
        return ids.take();
    }

    private static void failTwoAcceptsThenServe() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        UnaryOperator<AcceptLoop.Acceptor> failingTwice = real -> () -> {
            if (calls.incrementAndGet() <= 2) {
                throw new IOException("EMFILE (injected)");
            }
            return real.accept();
        };
        RealTcpServer server = new RealTcpServer(Echo.loopback().acceptDelay(Duration.ofMillis(1)).build(), Echo.READER,
                SenderFactory.queue(8), failingTwice, System::nanoTime);
        server.start();
        try (TestClient c = TestClient.connect(server.address())) {
            assertThat(c.roundTrip(new byte[] {9})).containsExactly(9); // accepted after the two back-offs
        } finally {
            Echo.stop(server);
        }
    }

    private static List<RecordedEvent> of(List<RecordedEvent> events, String name) {
        return events.stream().filter(e -> e.getEventType().getName().equals(name)).toList();
    }

    private static RecordedEvent only(List<RecordedEvent> events, String name, long conn) {
        Function<RecordedEvent, Long> id = e -> e.getLong("conn");
        List<RecordedEvent> matching = of(events, name).stream().filter(e -> id.apply(e) == conn).toList();
        assertThat(matching).as(name + " of connection " + conn).hasSize(1);
        return matching.get(0);
    }
}
