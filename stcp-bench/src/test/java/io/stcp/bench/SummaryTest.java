package io.stcp.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class SummaryTest {

    @Test
    void mediansAndRatiosAreComputedPerLoadAndServer() {
        List<Summary.Run> runs = List.of(
                new Summary.Run("netty-epoll", "100x1", 1, 100, 50, 0, 2.0, 2.1),
                new Summary.Run("netty-epoll", "100x1", 2, 300, 70, 0, 2.0, Double.NaN),
                new Summary.Run("netty-epoll", "100x1", 3, 200, 60, 0, 4.0, 2.3),
                new Summary.Run("stcp", "100x1", 1, 150, 80, 0, 2.0, 2.0),
                new Summary.Run("stcp", "100x1", 2, 250, 90, 0, 3.0, 4.0));
        List<Summary.Row> rows = Summary.rows(runs, List.of("100x1"), List.of("netty-epoll", "stcp"), "netty-epoll");
        assertThat(rows).hasSize(2);
        assertThat(rows.get(0).medianMsgsPerSecond()).isEqualTo(200);
        assertThat(rows.get(0).ratio()).isEqualTo(1.0);
        assertThat(rows.get(1).medianMsgsPerSecond()).isEqualTo(200);
        assertThat(rows.get(1).medianP99Micros()).isEqualTo(85);
        assertThat(rows.get(0).medianCpuMicrosPerMessage()).isEqualTo(2.0);
        assertThat(rows.get(0).medianSyscallsPerMessage()).isEqualTo(2.2); // runs without a count are left out
        assertThat(rows.get(1).cpuRatio()).isEqualTo(0.8); // 2.0 µs ÷ 2.5 µs: stcp needs more CPU per message
        assertThat(Summary.markdown(rows, "netty-epoll")).contains("| 100x1 | stcp | 200 | 1.00 | 85 | 2.50 | 0.80 | 3.00 | 2 |");
    }

    @Test
    void loadsParseAndBadOnesAreNamed() {
        assertThat(Summary.parseLoad("1000x16")).containsExactly(1000, 16);
        assertThatThrownBy(() -> Summary.parseLoad("1000")).hasMessageContaining("\"1000\"");
        assertThatThrownBy(() -> Summary.parseLoad("0x1")).hasMessageContaining("positive");
    }
}
