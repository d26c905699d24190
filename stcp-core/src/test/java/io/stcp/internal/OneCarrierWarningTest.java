package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.OwnJvm;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A server started where virtual threads get one carrier because the JVM chose it warns, with the
 * property that gives them two (README, "On one CPU"); one where the operator chose does not. Each
 * case is a JVM of its own, told it has one processor.
 */
class OneCarrierWarningTest {

    /** Starts and closes an echo server: what the JVM it runs in logs (WARN and up) is the test's subject. */
    public static void main(String[] args) throws Exception {
        Echo.stop(Echo.start());
        System.out.println("server started and stopped");
    }

    @Test
    void onlyTheJvmsOwnChoiceOfOneCarrierIsWarnedOf() {
        assertThat(RealTcpServer.oneCarrierByDefault(1, null)).isTrue();
        assertThat(RealTcpServer.oneCarrierByDefault(1, "1")).as("chosen by the operator").isFalse();
        assertThat(RealTcpServer.oneCarrierByDefault(1, "2")).isFalse();
        assertThat(RealTcpServer.oneCarrierByDefault(2, null)).isFalse();
    }

    @Test
    void aServerOnOneProcessorWarnsUnlessTheCarriersWereChosen(@TempDir Path dir) throws Exception {
        String alone = run(dir.resolve("alone.log"));
        assertThat(alone).contains("server started").contains("server.oneCarrier")
                .contains("-Djdk.virtualThreadScheduler.parallelism=2");
        String chosen = run(dir.resolve("chosen.log"), "-Djdk.virtualThreadScheduler.parallelism=1");
        assertThat(chosen).contains("server started").doesNotContain("server.oneCarrier");
    }

    private static String run(Path log, String... options) throws Exception {
        List<String> jvm = new ArrayList<>(List.of("-XX:ActiveProcessorCount=1"));
        jvm.addAll(List.of(options));
        return OwnJvm.run(log, 60, jvm, OneCarrierWarningTest.class);
    }
}
