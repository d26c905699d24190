package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class DurationsTest {

    @ParameterizedTest
    @CsvSource({
        "5µs, 5000",
        "5us, 5000",
        "5μs, 5000",
        "50ms, 50000000",
        "1m30s, 90000000000",
        "2h, 7200000000000",
        "1.5h, 5400000000000",
        "300ns, 300",
        "0, 0",
        "-1.5s, -1500000000",
        "PT0.05S, 50000000",
        "PT1M30S, 90000000000",
    })
    void parsesGoAndIsoDurations(String text, long nanos) {
        assertThat(Durations.parse(text)).isEqualTo(Duration.ofNanos(nanos));
    }

    @ParameterizedTest
    @ValueSource(strings = {"5000", "12", "", "ms", "5 parsecs", "5x", "1..5s", "P", "PTxS",
        "5S", "5Ms", "1M", "2H", "\u0665s", "0.1ns", "0.0000000001s"})
    void rejectsBareNumbersUnknownUnitsAndGarbageNamingTheText(String text) {
        assertThatThrownBy(() -> Durations.parse(text)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("\"" + text + "\"");
    }

    @ParameterizedTest
    @CsvSource({"5000, 5µs", "50000000, 50ms", "90000000000, 1m30s", "7200000000000, 2h0m0s", "0, 0s", "1500, 1.5µs"})
    void formatsLikeGo(long nanos, String text) {
        assertThat(Durations.format(Duration.ofNanos(nanos))).isEqualTo(text);
        assertThat(Durations.parse(text)).isEqualTo(Duration.ofNanos(nanos));
    }
}
