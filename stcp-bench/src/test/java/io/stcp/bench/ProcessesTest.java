package io.stcp.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link Processes#jcmd} and {@link Processes#liveHeapKib}, against this JVM and against children with each collector. */
class ProcessesTest {
    private static final int HELD = 8 << 20;

    @Test
    void jcmdAnswersWithTheCommandsOutput() throws Exception {
        assertThat(Processes.jcmd(ProcessHandle.current().pid(), "VM.version"))
                .contains("JDK " + Runtime.version().feature());
    }

    @Test
    void aFailedCommandIsAnErrorNamingIt() {
        assertThatThrownBy(() -> Processes.jcmd(ProcessHandle.current().pid(), "No.such_command"))
                .isInstanceOf(IOException.class).hasMessageContaining("No.such_command");
    }

    /** Serial's and Parallel's heaps are two generations; after a full collection the array is in the old one. */
    @ParameterizedTest
    @ValueSource(strings = {"-XX:+UseSerialGC", "-XX:+UseParallelGC", "-XX:+UseG1GC"})
    void theLiveHeapCountsEveryGeneration(String collector) throws Exception {
        Process child = new ProcessBuilder(Processes.java(), collector, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                Holder.class.getName()).redirectErrorStream(true).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            assertThat(out.readLine()).isEqualTo("holding");
            assertThat(Processes.liveHeapKib(child.pid())).isBetween((long) HELD >> 10, (HELD >> 10) + 16L * 1024);
        } finally {
            child.destroyForcibly();
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).as("child ended").isTrue();
        }
    }

    /** A JVM holding an array of {@link #HELD} bytes until its input ends. */
    static final class Holder {
        public static void main(String[] args) throws IOException {
            byte[] held = new byte[HELD];
            System.out.println("holding");
            System.out.flush();
            System.in.read();
            System.out.println(held.length);
        }
    }
}
