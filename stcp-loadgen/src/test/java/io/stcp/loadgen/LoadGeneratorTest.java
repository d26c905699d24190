package io.stcp.loadgen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class LoadGeneratorTest {

    /** A tiny blocking echo server, one virtual thread per connection. */
    private static final class EchoServer implements AutoCloseable {
        final ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        final List<Socket> sockets = new java.util.concurrent.CopyOnWriteArrayList<>();
        /** What it sends back for each frame's payload: the payload itself unless told otherwise. */
        final UnaryOperator<byte[]> reply;
        final Thread acceptor = Thread.ofVirtual().start(this::accept);

        EchoServer() throws IOException {
            this(UnaryOperator.identity());
        }

        /** A broken or slow echo: it replies {@code reply(payload)}. */
        EchoServer(UnaryOperator<byte[]> reply) throws IOException {
            this.reply = reply;
        }

        void accept() {
            try {
                while (true) {
                    Socket s = listener.accept();
                    sockets.add(s);
                    Thread.ofVirtual().start(() -> echo(s, reply));
                }
            } catch (IOException closed) {
                // done
            }
        }

        static void echo(Socket s, UnaryOperator<byte[]> reply) {
            try (s) {
                DataInputStream in = new DataInputStream(s.getInputStream());
                DataOutputStream out = new DataOutputStream(s.getOutputStream());
                while (true) {
                    byte[] b = new byte[in.readInt()];
                    in.readFully(b);
                    byte[] r = reply.apply(b);
                    out.writeInt(r.length);
                    out.write(r);
                    out.flush();
                }
            } catch (IOException closed) {
                // peer gone
            }
        }

        @Override
        public void close() throws Exception {
            listener.close();
            for (Socket s : sockets) {
                s.close();
            }
            acceptor.join();
        }
    }

    @Test
    void aNullOptionIsRefusedAtItsSetterByItsName() {
        LoadOptions.Builder b = LoadOptions.builder();
        assertThatThrownBy(() -> b.host(null)).isInstanceOf(NullPointerException.class).hasMessage("host");
        assertThatThrownBy(() -> b.duration(null)).isInstanceOf(NullPointerException.class).hasMessage("duration");
        assertThatThrownBy(() -> b.warmup(null)).isInstanceOf(NullPointerException.class).hasMessage("warmup");
        assertThatThrownBy(() -> b.sourceAddresses(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("sourceAddresses");
    }

    @Test
    void measuresAnEchoServerWithoutErrors() throws Exception {
        try (EchoServer server = new EchoServer()) {
            LoadResult r = LoadGenerator.run(LoadOptions.builder().port(server.listener.getLocalPort())
                    .connections(4).inFlight(2).duration(Duration.ofMillis(700)).warmup(Duration.ofMillis(200)).build(), null);
            assertThat(r.connections()).isEqualTo(4);
            assertThat(r.messages()).isPositive();
            assertThat(r.errors()).isZero();
            assertThat(r.p50Micros()).isPositive().isLessThanOrEqualTo(r.p90Micros());
            assertThat(r.p90Micros()).isLessThanOrEqualTo(r.p99Micros());
            assertThat(r.p99Micros()).isLessThanOrEqualTo(r.p999Micros());
            assertThat(r.p999Micros()).isLessThanOrEqualTo(r.maxMicros());
        }
    }

    /**
     * A reply of the wrong length is an error, and neither a message nor a round trip: here it keeps
     * the send time (its first 8 bytes), so it would otherwise pass for a fast echo.
     */
    @Test
    void wrongRepliesAreErrorsNotMessagesOrLatencies() throws Exception {
        try (EchoServer server = new EchoServer(payload -> Arrays.copyOf(payload, 8))) {
            LoadOptions options = LoadOptions.builder().port(server.listener.getLocalPort()).connections(2)
                    .duration(Duration.ofMillis(300)).warmup(Duration.ofMillis(100)).build();
            LoadResult r = LoadGenerator.run(options, null);
            assertThat(r.errors()).isPositive();
            assertThat(r.messages()).isZero();
            assertThat(r.maxMicros()).isZero();
            LoadResult cycles = ReconnectLoad.run(options, null);
            assertThat(cycles.errors()).isPositive();
            assertThat(cycles.messages()).isZero();
            assertThat(cycles.maxMicros()).isZero();
        }
    }

    /**
     * A round trip of minutes is measured, not a failure: the echo here moves each send
     * time two minutes back, as a server that took that long to answer would have.
     */
    @Test
    void aRoundTripOfMinutesIsRecordedAsItsLatency() throws Exception {
        long late = TimeUnit.SECONDS.toNanos(120);
        try (EchoServer server = new EchoServer(payload -> ByteBuffer.allocate(payload.length).put(payload)
                .putLong(0, ByteBuffer.wrap(payload).getLong() - late).array())) {
            LoadResult r = LoadGenerator.run(LoadOptions.builder().port(server.listener.getLocalPort()).connections(2)
                    .duration(Duration.ofMillis(300)).warmup(Duration.ofMillis(100)).build(), null);
            assertThat(r.errors()).isZero();
            assertThat(r.messages()).isPositive();
            assertThat(r.maxMicros()).isGreaterThanOrEqualTo(TimeUnit.NANOSECONDS.toMicros(late));
        }
    }

    @Test
    void aServerThatIsNotThereIsAConnectException() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        assertThatThrownBy(() -> LoadGenerator.run(LoadOptions.builder().port(port).connections(1)
                .duration(Duration.ofMillis(100)).warmup(Duration.ZERO).build(), null))
                .isInstanceOf(ConnectException.class).hasMessageContaining(String.valueOf(port));
    }

    @Test
    void aResultLineReadsBackAsTheSameResult() {
        LoadResult r = new LoadResult(100, 123_456, 2.5, 49_382.4, 10, 20, 30, 40, 50, 1, 6.125, Double.NaN);
        assertThat(r.resultLine()).startsWith("result connections=100 messages=123456 seconds=2.500 msgs_per_s=49382.4")
                .endsWith("server_cpu_us_per_msg=6.125 server_syscalls_per_msg=NaN");
        assertThat(LoadResult.parseResultLine(r.resultLine())).isEqualTo(r);
        // as the C generator writes it: extra keys, C's spelling of NaN
        assertThat(LoadResult.parseResultLine(r.resultLine().replace("NaN", "-nan") + " loadgen_busy=0.5")).isEqualTo(r);
        assertThatThrownBy(() -> LoadResult.parseResultLine("result connections=1"))
                .hasMessageContaining("without messages");
        assertThatThrownBy(() -> LoadResult.parseResultLine("loadgen: cannot connect"))
                .hasMessageContaining("not a result line");
    }

    @Test
    void badOptionsNameTheField() {
        assertThatThrownBy(() -> LoadOptions.builder().port(1).connections(0).build())
                .hasMessage("connections: 0 (expected: >= 1)");
        assertThatThrownBy(() -> LoadOptions.builder().port(1).payloadSize(4).build())
                .hasMessage("payloadSize: 4 (expected: 8..1048576)");
        assertThatThrownBy(() -> LoadOptions.builder().port(1).countSyscalls(true).build())
                .hasMessageContaining("countSyscalls");
        assertThat(LoadMain.parseDuration("500ms")).isEqualTo(Duration.ofMillis(500));
        assertThat(LoadMain.parseDuration("1m")).isEqualTo(Duration.ofMinutes(1));
        assertThatThrownBy(() -> LoadMain.parseDuration("soon")).hasMessageContaining("soon");
    }

    /** On the command line, a bad value is a usage error (exit code 2) that names it, not a stack trace. */
    @Test
    void aBadCommandLineValueIsAUsageErrorNamingIt() {
        String[][] cases = {
                {"--connections", "0", "connections: 0 (expected: >= 1)"},
                {"--size", "4", "payloadSize: 0 (expected: 8..1048576)"},
                {"--duration", "soon", "duration: \"soon\""},
                {"--addr", "127.0.0.1:http", "--addr: port \"http\""}};
        for (String[] c : cases) {
            java.io.StringWriter err = new java.io.StringWriter();
            List<String> args = new ArrayList<>(List.of("--quiet", c[0], c[1]));
            if (!c[0].equals("--addr")) {
                args.addAll(List.of("--addr", "127.0.0.1:9"));
            }
            int code = new picocli.CommandLine(new LoadMain()).setErr(new java.io.PrintWriter(err))
                    .execute(args.toArray(String[]::new));
            assertThat(code).as(err.toString()).isEqualTo(2);
            assertThat(err.toString()).startsWith(c[2]);
        }
    }
}
