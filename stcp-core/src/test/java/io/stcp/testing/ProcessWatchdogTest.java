package io.stcp.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ProcessWatchdogTest {

    /** {@code cat} with its input left open never ends its output: only the watchdog ends the read. */
    @Test
    void aReadOfAChildThatNeverAnswersEndsWhenTheWatchdogFires() throws Exception {
        Process cat = new ProcessBuilder("cat").start();
        try (ProcessWatchdog watchdog = ProcessWatchdog.watch(cat, Duration.ofMillis(200))) {
            assertThat(cat.getInputStream().readAllBytes()).isEmpty();
            assertThat(watchdog.fired()).isTrue();
            assertThatThrownBy(() -> watchdog.assertNotFired("its output")).isInstanceOf(AssertionError.class)
                    .hasMessageContaining("killed after 200 ms, still waiting for its output");
        } finally {
            cat.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aChildDoneInTimeIsLeftAlone() throws Exception {
        Process cat = new ProcessBuilder("cat").start();
        try {
            try (ProcessWatchdog watchdog = ProcessWatchdog.watch(cat, Duration.ofSeconds(30))) {
                cat.getOutputStream().write("hello".getBytes());
                cat.getOutputStream().close();
                assertThat(cat.getInputStream().readAllBytes()).asString().isEqualTo("hello");
                watchdog.assertNotFired("its output");
            }
            assertThat(cat.waitFor(10, TimeUnit.SECONDS)).isTrue();
            assertThat(cat.exitValue()).as("exited by itself, not killed").isZero();
        } finally {
            cat.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
