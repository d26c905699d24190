package io.stcp.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.stcp.loadgen.LoadResult;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The C load generator ({@code src/main/c/loadgen.c}, built into {@code target/native} by the
 * build) against an in-process echo server over loopback, read back through {@link Generator} as
 * compare reads it. Skipped only when the build's C compiler cannot be run at all.
 */
class NativeLoadgenTest {
    private static final Path NATIVE_DIR = Path.of("target/native");

    @TempDir
    Path logs;

    @BeforeEach
    void theGeneratorWasBuiltUnlessThereIsNoCompiler() {
        if (Files.isExecutable(NATIVE_DIR.resolve("loadgen"))) {
            return;
        }
        String cc = System.getProperty("bench.cc", "gcc");
        assumeTrue(runs(cc), () -> cc + " is not installed, so the build did not compile the C load generator:"
                + " nothing to test");
        fail(cc + " is installed but " + NATIVE_DIR.resolve("loadgen") + " was not built: see the build's compile-c step");
    }

    /**
     * Waits up to 30 s for {@code p} to exit, else kills it: whatever it writes goes to a file, so
     * no read of a pipe (which no interrupt ends) can hold the test past that.
     */
    private static boolean exits(Process p) throws InterruptedException {
        if (p.waitFor(30, TimeUnit.SECONDS)) {
            return true;
        }
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        return false;
    }

    private static boolean runs(String cc) {
        try {
            Process p = new ProcessBuilder(cc, "--version").redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            return exits(p) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static Generator generator() {
        return Generator.c(NATIVE_DIR.resolve("loadgen"));
    }

    @Test
    void measuresAnEchoServerAndReportsEveryFigure() throws Exception {
        try (EchoServer server = new EchoServer(64, Long.MAX_VALUE)) {
            Load load = Load.parse("4x2", 64);
            Generator.Outcome o = generator().run(server.address(), load, "100ms", "300ms",
                    ProcessHandle.current().pid(), false, -1, logs.resolve("load.log"));
            LoadResult r = o.result();
            assertThat(r.connections()).isEqualTo(4);
            assertThat(r.errors()).isZero();
            assertThat(r.messages()).isPositive().isLessThan(server.echoed.get()); // the pings and the warm-up came first
            assertThat(server.unexpected.get()).isZero();
            assertThat(r.seconds()).isGreaterThanOrEqualTo(0.3).isLessThan(1.5); // ends at the first wake-up after 300 ms
            assertThat(r.messagesPerSecond()).isCloseTo(r.messages() / r.seconds(), org.assertj.core.data.Percentage.withPercentage(1));
            assertThat(r.p50Micros()).isPositive().isLessThanOrEqualTo(r.p90Micros());
            assertThat(r.p90Micros()).isLessThanOrEqualTo(r.p99Micros());
            assertThat(r.p99Micros()).isLessThanOrEqualTo(r.p999Micros());
            assertThat(r.p999Micros()).isLessThanOrEqualTo(r.maxMicros());
            assertThat(r.serverCpuMicrosPerMessage()).isNotNaN().isNotNegative(); // this JVM's, in 10 ms ticks
            assertThat(r.serverSyscallsPerMessage()).isNaN(); // not asked for
            assertThat(o.loadgenBusy()).isPositive().isLessThan(1.5);
            assertThat(o.othersBusy()).isNotNaN().isGreaterThanOrEqualTo(0); // whatever else this machine runs

            Map<String, Long> fair = fairness(Files.readAllLines(logs.resolve("load.log")));
            assertThat(fair.get("conn_msgs_min")).isPositive().isLessThanOrEqualTo(fair.get("conn_msgs_p50"));
            assertThat(fair.get("conn_msgs_p50")).isLessThanOrEqualTo(fair.get("conn_msgs_p90"));
            assertThat(fair.get("conn_msgs_p90")).isLessThanOrEqualTo(fair.get("conn_msgs_max"));
            assertThat(4 * fair.get("conn_msgs_min")).isLessThanOrEqualTo(r.messages());
            assertThat(4 * fair.get("conn_msgs_max")).isGreaterThanOrEqualTo(r.messages());
            assertThat(fair.get("conn_worst_us_min")).isPositive().isLessThanOrEqualTo(fair.get("conn_worst_us_p50"));
            assertThat(fair.get("conn_worst_us_max")).as("the slowest connection's worst is the run's worst")
                    .isEqualTo(r.maxMicros());
            assertThat(o.connMsgsMin()).as("read back as compare reads it").isEqualTo(fair.get("conn_msgs_min"));
            assertThat(o.connMsgsMax()).isEqualTo(fair.get("conn_msgs_max"));
        }
    }

    @Test
    void aTimelineCountsTheFramesOfEveryIntervalFromTheStartOfTheWarmUp() throws Exception {
        try (EchoServer server = new EchoServer(64, Long.MAX_VALUE)) {
            Process p = new ProcessBuilder(NATIVE_DIR.resolve("loadgen").toString(), "--addr", server.address(),
                    "--connections", "4", "--in-flight", "2", "--size", "64", "--warmup", "100ms", "--duration", "300ms",
                    "--server-pid", Long.toString(ProcessHandle.current().pid()), "--timeline", "50")
                    .redirectError(logs.resolve("timeline.log").toFile()).redirectOutput(logs.resolve("load.log").toFile())
                    .start();
            assertThat(exits(p)).isTrue();
            assertThat(p.exitValue()).isZero();
            List<Map<String, String>> ticks = Files.readAllLines(logs.resolve("timeline.log")).stream()
                    .filter(l -> l.startsWith("timeline ")).map(l -> LoadResult.lineFields("timeline", l)).toList();

            // 400 ms of load at 50 ms a line; a late wake-up skips lines, and the run ends between two.
            assertThat(ticks).hasSizeBetween(1, 8);
            long frames = 0;
            for (int i = 0; i < ticks.size(); i++) {
                Map<String, String> t = ticks.get(i);
                assertThat(t).containsOnlyKeys("ms", "frames", "worst_us", "server_cpu_ms", "server_page_faults", "loadgen_cpu_ms");
                long ms = Long.parseLong(t.get("ms"));
                assertThat(ms).as("line %d comes after its interval", i).isGreaterThanOrEqualTo(50L * (i + 1));
                long n = Long.parseLong(t.get("frames"));
                long worst = Long.parseLong(t.get("worst_us"));
                assertThat(worst).as("a round trip within the timeline").isBetween(n > 0 ? 1L : 0L, ms * 1000 + 1000);
                assertThat(Double.parseDouble(t.get("server_cpu_ms"))).isNotNegative();
                assertThat(Double.parseDouble(t.get("server_page_faults"))).isNotNegative();
                assertThat(Double.parseDouble(t.get("loadgen_cpu_ms"))).isNotNegative();
                frames += n;
            }
            assertThat(frames).as("replies the echo sent, pings aside").isPositive().isLessThanOrEqualTo(server.echoed.get() - 4);
        }
    }

    /**
     * {@code --busy-poll}: the generator never sleeps in {@code epoll_wait}, so it spends its core
     * even while no reply comes; the same run without it sleeps through the silence.
     */
    @Test
    void aBusyPollingGeneratorSpendsItsCoreWhereASleepingOneWaits() throws Exception {
        try (EchoServer server = new EchoServer(64, Long.MAX_VALUE, 2)) { // the pings are answered, nothing after them
            Generator.Options options = new Generator.Options();
            options.which = "c";
            options.nativeDir = NATIVE_DIR;
            options.busyPoll = true;
            Generator busy = options.generator(System.err);
            assertThat(busy.name()).isEqualTo("c-busy-poll");

            Generator.Outcome polled = busy.run(server.address(), Load.parse("2x1", 64), "0s", "400ms", 0, false, -1,
                    logs.resolve("busy.log"));
            Generator.Outcome slept = generator().run(server.address(), Load.parse("2x1", 64), "0s", "400ms", 0, false,
                    -1, logs.resolve("sleeping.log"));

            for (Generator.Outcome o : List.of(polled, slept)) {
                assertThat(o.result().errors()).isZero();
                assertThat(o.result().messages()).isZero();
            }
            // The busy one's share is what the scheduler gives a spinning process: most of a core on
            // an idle machine, a tenth of one under a load of 18 on 2 cores; the sleeping one's stays
            // near nothing either way.
            assertThat(slept.loadgenBusy()).as("a core's share, sleeping").isLessThan(0.1);
            assertThat(polled.loadgenBusy()).as("a core's share, busy polling")
                    .isGreaterThan(Math.max(0.05, 4 * slept.loadgenBusy()));
        }
    }

    @Test
    void busyPollingIsRefusedForTheJavaGenerator() {
        Generator.Options options = new Generator.Options();
        options.which = "java";
        options.nativeDir = NATIVE_DIR;
        options.loadgenJar = Path.of("stcp-loadgen.jar");
        options.busyPoll = true;
        assertThatThrownBy(() -> options.generator(System.err)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--busy-poll needs the C generator");
    }

    /** The figures of the generator's "fairness" line. */
    private static Map<String, Long> fairness(List<String> lines) {
        String line = lines.stream().filter(l -> l.startsWith("fairness ")).findFirst().orElseThrow();
        Map<String, Long> fields = new HashMap<>();
        LoadResult.lineFields("fairness", line).forEach((key, value) -> fields.put(key, Long.parseLong(value)));
        assertThat(fields).hasSize(8);
        return fields;
    }

    @ParameterizedTest(name = "{0}-byte frames")
    @ValueSource(ints = {16_384, 70_001, (1 << 20) + 4})
    void bigFramesGoThroughPartialReadsAndWritesWhole(int size) throws Exception {
        try (EchoServer server = new EchoServer(size, Long.MAX_VALUE)) {
            Generator.Outcome o = generator().run(server.address(), Load.parse("2x2@" + size, 64), "0s", "200ms", 0,
                    false, -1, logs.resolve("load.log"));
            assertThat(o.result().errors()).isZero();
            assertThat(o.result().messages()).isPositive();
            assertThat(server.unexpected.get()).isZero();
            assertThat(o.result().serverCpuMicrosPerMessage()).isNaN(); // no server pid given
        }
    }

    /** The rig's Netty echo takes every load's frames, up to a 1 MiB body, with either cumulator. */
    @ParameterizedTest(name = "{0}-byte frames, {1} cumulator")
    @org.junit.jupiter.params.provider.CsvSource({"1048580, merge", "1048580, composite"})
    void theNettyEchoTakesTheLargestFrameWithEitherCumulator(int size, String cumulator) throws Exception {
        try (NettyEchoServer.Running netty = NettyEchoServer.start("127.0.0.1", 0,
                io.netty.channel.epoll.Epoll.isAvailable(), cumulator.equals("composite"), null, 0)) {
            Generator.Outcome o = generator().run("127.0.0.1:" + netty.port(), Load.parse("2x2@" + size, 64), "0s",
                    "200ms", 0, false, -1, logs.resolve("load.log"));
            assertThat(o.result().errors()).isZero();
            assertThat(o.result().messages()).isPositive();
        }
        assertThat(NettyEchoServer.cumulatorFor(NettyEchoServer.LARGEST_READ)).isEqualTo("merge");
        assertThat(NettyEchoServer.cumulatorFor(NettyEchoServer.LARGEST_READ + 1)).isEqualTo("composite");
    }

    /** With a read-idle timeout, as stcp's echo has, the Netty echo closes a connection that sends nothing. */
    @Test
    void theNettyEchoWithAReadIdleTimeoutClosesASilentConnection() throws Exception {
        try (NettyEchoServer.Running netty = NettyEchoServer.start("127.0.0.1", 0,
                io.netty.channel.epoll.Epoll.isAvailable(), false, null, 1);
             java.net.Socket silent = new java.net.Socket("127.0.0.1", netty.port())) {
            silent.setSoTimeout(20_000); // far beyond the 1 s: a read that times out fails the test
            assertThat(silent.getInputStream().read()).isEqualTo(-1); // closed by the server
        }
    }

    @Test
    void aReplyOfTheWrongLengthIsAnErrorAndTheExitStatusSaysSo() throws Exception {
        try (EchoServer server = new EchoServer(64, 2)) { // the ping is answered right, the next frame is not
            Process p = new ProcessBuilder(generator().commandLine(server.address(), Load.parse("2x1", 64), "0s",
                    "200ms", 0, false)).redirectError(logs.resolve("stderr").toFile())
                    .redirectOutput(logs.resolve("stdout").toFile()).start();
            assertThat(exits(p)).isTrue();
            String out = Files.readString(logs.resolve("stdout"));
            assertThat(p.exitValue()).isEqualTo(1);
            String result = out.lines().filter(l -> l.startsWith("result ")).findFirst().orElseThrow();
            assertThat(LoadResult.parseResultLine(result).errors()).isEqualTo(2); // each connection once, then closed
            assertThat(Files.readString(logs.resolve("stderr"))).contains("a reply with the wrong length");
        }
    }

    @Test
    void aServerThatIsNotThereEndsTheRunWithStatusTwoAndNoResult() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Process p = new ProcessBuilder(generator().commandLine("127.0.0.1:" + port, Load.parse("1x1", 64), "0s",
                "100ms", 0, false)).redirectErrorStream(true).redirectOutput(logs.resolve("stdout").toFile()).start();
        assertThat(exits(p)).isTrue();
        String out = Files.readString(logs.resolve("stdout"));
        assertThat(p.exitValue()).isEqualTo(2);
        assertThat(out).contains("cannot connect to 127.0.0.1:" + port).doesNotContain("result ");
    }
}
