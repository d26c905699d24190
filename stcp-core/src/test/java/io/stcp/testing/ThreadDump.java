package io.stcp.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A dump of every thread, virtual ones included, for a test that found something still running:
 * written by the JDK's {@code jcmd} (the test module cannot reach the management API).
 */
public final class ThreadDump {
    private ThreadDump() {}

    /**
     * Writes the dump to a new file under {@code target/thread-dumps}; returns where, followed by the
     * stcp threads' part of it (or why there is none).
     */
    public static String write() {
        try {
            Path dir = Files.createDirectories(Path.of("target", "thread-dumps"));
            Path file = dir.resolve("threads-" + ProcessHandle.current().pid() + "-" + System.nanoTime() + ".txt");
            Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
            Process p = new ProcessBuilder(jcmd.toString(), Long.toString(ProcessHandle.current().pid()),
                    "Thread.dump_to_file", file.toAbsolutePath().toString())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
                return "no dump: jcmd took longer than 30 s";
            }
            if (!Files.exists(file)) {
                return "no dump: jcmd exited " + p.exitValue();
            }
            StringBuilder stcp = new StringBuilder(file.toAbsolutePath().toString());
            for (String thread : Files.readString(file).split("\n\n")) {
                if (thread.contains("\"stcp-")) {
                    stcp.append("\n").append(thread);
                }
            }
            return stcp.toString();
        } catch (Exception e) {
            return "no dump: " + e;
        }
    }
}
