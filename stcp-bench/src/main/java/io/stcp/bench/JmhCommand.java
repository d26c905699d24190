package io.stcp.bench;

import java.util.Arrays;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code jmh [JMH options] [benchmark regex]}: the JMH microbenchmarks with JMH's own command line,
 * handed over untouched by {@link BenchMain} (this class only describes it in the help).
 */
@Command(name = "jmh", description = "Run the JMH microbenchmarks (SendQueueBenchmark, FramingBenchmark,"
        + " ReadBytesBenchmark, RegistryBenchmark, ThreadStartBenchmark); arguments go to JMH unchanged, e.g. 'jmh FramingBenchmark'"
        + " or 'jmh -f 1 -wi 2 -i 3'.")
final class JmhCommand implements Runnable {

    @Parameters(arity = "0..*", description = "JMH's arguments; 'jmh -h' lists them.")
    String[] args;

    @Override
    public void run() {
        main(args == null ? new String[0] : args);
    }

    static void main(String[] args) {
        try {
            org.openjdk.jmh.Main.main(args);
        } catch (Exception e) {
            throw new IllegalStateException("jmh " + Arrays.toString(args) + ": " + e, e);
        }
    }
}
