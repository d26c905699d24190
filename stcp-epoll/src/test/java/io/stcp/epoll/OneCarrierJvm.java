package io.stcp.epoll;

import io.stcp.testing.OwnJvm;
import java.nio.file.Path;
import java.util.List;

/** Runs a probe's {@code main} in a JVM of its own whose virtual threads have one carrier, on a chosen transport. */
final class OneCarrierJvm {
    private OneCarrierJvm() {}

    /**
     * Runs {@code probe} with {@code -Djdk.virtualThreadScheduler.parallelism=1},
     * {@code -Dio.stcp.transport=transport} and {@code args}; fails unless it exits 0 within 55 s.
     *
     * @return its output
     */
    static String run(Path dir, String transport, Class<?> probe, String... args) throws Exception {
        return OwnJvm.run(dir.resolve("probe.log"), 55, List.of("-Xmx512m",
                "-Djdk.virtualThreadScheduler.parallelism=1", "--enable-native-access=ALL-UNNAMED",
                "--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED", "-Dio.stcp.transport=" + transport), probe, args);
    }
}
