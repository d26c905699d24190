package io.stcp.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The README's first command runs {@code demo}: a short one, as a user runs it, in its own JVM. */
class DemoCommandTest {

    @Test
    void theDemoDrivesTheEchoServerAndReportsEveryLoadWithoutErrors() throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
                "io.stcp.examples.Main", "demo", "--loads", "20x1,20x4", "--duration", "500ms", "--warmup", "200ms"))
                .redirectErrorStream(true).start();
        try {
            String out = new BufferedReader(new InputStreamReader(p.getInputStream())).lines()
                    .collect(Collectors.joining("\n"));
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(out).isZero();
            assertThat(out).containsPattern("20 x 1 +[\\d,]+ +\\d+ +\\d+ +\\d+ +\\d+ +0\\n")
                    .containsPattern("20 x 4 +[\\d,]+ +\\d+ +\\d+ +\\d+ +\\d+ +0\\n")
                    .endsWith("server: 40 connections accepted, 0 rejected, 0 live after shutdown (clean)"); // the last line
        } finally {
            p.destroyForcibly();
        }
    }

    /** A load that is not CONNECTIONSxIN_FLIGHT is named before anything runs, not a stack trace halfway. */
    @Test
    void aMalformedLoadIsRefusedByNameBeforeAnyRuns() {
        for (String bad : List.of("100", "axb", "0x1", "10x")) {
            java.io.StringWriter err = new java.io.StringWriter();
            CommandLine cmd = new CommandLine(new DemoCommand()).setErr(new java.io.PrintWriter(err))
                    .registerConverter(java.time.Duration.class, io.stcp.Durations::parse); // as Main does
            assertThat(cmd.execute("--loads", "10x1," + bad, "--duration", "100ms", "--warmup", "0s")).as(err.toString()).isEqualTo(2);
            assertThat(err.toString()).startsWith("--loads: \"" + bad + "\" (expected: CONNECTIONSxIN_FLIGHT");
        }
    }
}
