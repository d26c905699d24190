package io.stcp.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a class's {@code main} in a JVM of its own, with this one's java and class path, for what a fresh JVM shows. */
public final class OwnJvm {
    private OwnJvm() {}

    /**
     * Runs {@code main} with {@code options} before the class path and {@code args} after the class,
     * its output (both streams) in {@code log}; fails unless it exits 0 within {@code seconds}.
     *
     * @return the output
     */
    public static String run(Path log, long seconds, List<String> options, Class<?> main, String... args)
            throws Exception {
        return run(log, seconds, 0, options, main, args);
    }

    /**
     * As {@link #run(Path, long, List, Class, String...)}, but fails unless the JVM exits with
     * {@code exitCode} (143: ended by SIGTERM, as a JVM is without a handler of its own).
     */
    public static String run(Path log, long seconds, int exitCode, List<String> options, Class<?> main,
                             String... args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.addAll(options);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        boolean exited = p.waitFor(seconds, TimeUnit.SECONDS);
        if (!exited) {
            p.destroyForcibly().waitFor();
        }
        String output = Files.readString(log);
        assertThat(exited).as("exited within " + seconds + " s: " + output).isTrue();
        assertThat(p.exitValue()).as(output).isEqualTo(exitCode);
        return output;
    }
}
