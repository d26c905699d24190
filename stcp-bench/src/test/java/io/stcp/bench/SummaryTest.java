package io.stcp.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SummaryTest {
    private static final double NAN = Double.NaN;

    @Test
    void mediansAndRatiosAreComputedPerLoadAndServer() {
        List<Summary.Run> runs = List.of(
                new Summary.Run("netty-epoll", "100x1", 1, 100, 50, 0, 2.0, NAN, 0.5, NAN),
                new Summary.Run("netty-epoll", "100x1", 2, 300, 70, 0, 2.0, NAN, 0.7, NAN),
                new Summary.Run("netty-epoll", "100x1", 3, 200, 60, 0, 4.0, NAN, NAN, NAN),
                new Summary.Run("stcp", "100x1", 1, 150, 80, 0, 2.0, NAN, 0.4, NAN),
                new Summary.Run("stcp", "100x1", 2, 250, 90, 0, 3.0, NAN, 0.6, NAN));
        List<Summary.Run> syscallRuns = List.of(
                new Summary.Run("netty-epoll", "100x1", 0, 90, 0, 0, 9.0, 2.1, NAN, NAN),
                new Summary.Run("stcp", "100x1", 0, 80, 0, 0, 9.0, 4.0, NAN, NAN));
        List<Summary.Row> rows = Summary.rows(runs, syscallRuns, List.of("100x1"), List.of("netty-epoll", "stcp"),
                "netty-epoll");
        assertThat(rows).hasSize(2);
        assertThat(rows.get(0).medianMsgsPerSecond()).isEqualTo(200); // the traced runs' throughput is left out
        assertThat(rows.get(0).ratio()).isEqualTo(1.0);
        assertThat(rows.get(1).medianMsgsPerSecond()).isEqualTo(200);
        assertThat(rows.get(1).medianP99Micros()).isEqualTo(85);
        assertThat(rows.get(0).medianCpuMicrosPerMessage()).isEqualTo(2.0); // and their CPU figure too
        assertThat(rows.get(0).medianSyscallsPerMessage()).isEqualTo(2.1); // from the traced run only
        assertThat(rows.get(0).medianLoadgenBusy()).isEqualTo(0.6); // runs without a figure are left out
        assertThat(rows.get(0).runs()).isEqualTo(3);
        assertThat(rows.get(1).cpuRatio()).isEqualTo(0.8); // 2.0 µs ÷ 2.5 µs: stcp needs more CPU per message
        assertThat(Summary.markdown(rows, "netty-epoll")).contains("| 100x1 | stcp | 200 | 1.00 | 85 | 2.50 | 0.80 | 4.00 | 2 |");
    }

    @Test
    void theHeadroomIsTheCeilingOverTheFastestServerAndBelowOneAndAHalfIsFlagged() {
        List<Summary.Row> rows = List.of(
                new Summary.Row("100x1", "netty-epoll", 160_000, 0, 1, 6, 1, 2, 0.7, 3), // 6 µs × 160k/s: 96 % busy
                new Summary.Row("100x1", "stcp", 150_000, 0, 1, 6, 1, 2, 0.7, 3),
                new Summary.Row("100x16", "netty-epoll", 1_000_000, 0, 1, 1, 1, 0.2, 0.5, 3),
                new Summary.Row("100x16", "stcp", 1_100_000, 0, 1, 1, 1, 0.2, 0.5, 3));
        List<Summary.Run> ceilings = List.of(
                new Summary.Run(Summary.CEILING, "100x1", 1, 300_000, 0, 0, 3, NAN, 1.0, 0.0),
                new Summary.Run(Summary.CEILING, "100x1", 2, 340_000, 0, 0, 3, NAN, 1.0, 0.0),
                new Summary.Run(Summary.CEILING, "100x16", 1, 1_540_000, 0, 0, 1, NAN, 0.9, 0.5));
        List<Summary.Headroom> h = Summary.headroom(rows, ceilings, List.of("100x1", "100x16", "1000x1"));
        assertThat(h).extracting(Summary.Headroom::fastest).containsExactly("netty-epoll", "stcp");
        assertThat(h.get(0).ceilingMsgsPerSecond()).isEqualTo(320_000); // the median of its runs
        assertThat(h.get(0).ratio()).isEqualTo(2.0);
        assertThat(h.get(0).enough()).isTrue();
        assertThat(h.get(1).ratio()).isEqualTo(1.4);
        assertThat(h.get(1).enough()).isFalse();
        assertThat(Summary.headroomMarkdown(h))
                .contains("| 100x1 | 320,000 | 100 % | netty-epoll | 160,000 | 96 % | 2.00 |")
                .contains("| 100x16 | 1,540,000 | 90 % | stcp | 1,100,000 | 110 % | **1.40** (below 1.5) |");
        assertThat(ceilings.get(2).disturbed()).isTrue(); // others used half a core
        assertThat(ceilings.get(0).disturbed()).isFalse();
    }

    @Test
    void loadsParseWithAnOptionalFrameSizeAndBadOnesAreNamed() {
        assertThat(Load.parse("1000x16", 64)).isEqualTo(new Load("1000x16", 1000, 16, 64));
        assertThat(Load.parse(" 100x4@16384", 64)).isEqualTo(new Load("100x4@16384", 100, 4, 16384));
        assertThat(Load.parse("100x1@1048580", 64).size()).isEqualTo(Load.MAX_SIZE);
        assertThatThrownBy(() -> Load.parse("1000", 64)).hasMessageContaining("\"1000\"");
        assertThatThrownBy(() -> Load.parse("0x1", 64)).hasMessageContaining("positive");
        assertThatThrownBy(() -> Load.parse("1x1@1048581", 64)).hasMessageContaining("frame size 1048581");
        assertThatThrownBy(() -> Load.parse("1x1@8", 64)).hasMessageContaining("frame size 8");
        assertThatThrownBy(() -> Load.parse("1x1@2@3", 64)).hasMessageContaining("FRAME_SIZE");
    }

    @Test
    void withoutTheCGeneratorAutoFallsBackToJavaWithAWarningAndCRefuses() {
        java.io.ByteArrayOutputStream warnings = new java.io.ByteArrayOutputStream();
        java.nio.file.Path nowhere = java.nio.file.Path.of("no/such/dir");
        Generator g = Generator.choose("auto", nowhere, java.nio.file.Path.of("loadgen.jar"),
                new java.io.PrintStream(warnings, true, java.nio.charset.StandardCharsets.UTF_8));
        assertThat(g.name()).isEqualTo("java");
        assertThat(g.commandLine("127.0.0.1:1", Load.parse("10x2@128", 64), "1s", "2s", 42, true))
                .containsSubsequence("-jar", "loadgen.jar", "--addr", "127.0.0.1:1", "--connections", "10",
                        "--in-flight", "2", "--size", "128", "--warmup", "1s", "--duration", "2s", "--server-pid", "42",
                        "--syscalls", "--result-line");
        assertThat(warnings.toString(java.nio.charset.StandardCharsets.UTF_8))
                .contains("WARNING").contains("no/such/dir/loadgen").contains("falling back to the Java generator");
        assertThatThrownBy(() -> Generator.choose("c", nowhere, java.nio.file.Path.of("x.jar"), System.err))
                .hasMessageContaining("was not built");
        assertThatThrownBy(() -> Generator.choose("rust", nowhere, java.nio.file.Path.of("x.jar"), System.err))
                .hasMessageContaining("expected: auto, c or java");
    }
}
