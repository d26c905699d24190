package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
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
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "-XX:ActiveProcessorCount=1"));
        command.addAll(List.of(options));
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), OneCarrierWarningTest.class.getName()));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        boolean exited = p.waitFor(60, TimeUnit.SECONDS);
        if (!exited) {
            p.destroyForcibly().waitFor();
        }
        String output = Files.readString(log);
        assertThat(exited).as("exited: " + output).isTrue();
        assertThat(p.exitValue()).as(output).isZero();
        return output;
    }
}
