package io.stcp.bench.jmh;

import io.stcp.framing.DelimiterEncoder;
import io.stcp.framing.DelimiterReader;
import io.stcp.framing.LengthFieldEncoder;
import io.stcp.framing.LengthFieldReader;
import java.io.ByteArrayOutputStream;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Frame decoding without a socket: {@value #FRAMES} frames of {@code size} bytes decoded from
 * memory by the length-field and line readers; the score is per frame.
 * Run: {@code java -cp stcp-bench/target/stcp-bench.jar org.openjdk.jmh.Main FramingBenchmark}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class FramingBenchmark {
    static final int FRAMES = 1000;

    @Param({"16", "256"})
    int size;

    private ReplayConnection lengthPrefixed;
    private ReplayConnection lines;
    private LengthFieldReader lengthFieldReader;
    private DelimiterReader lineReader;
    private Blackhole blackhole;

    @Setup
    public void setup(Blackhole bh) {
        blackhole = bh;
        byte[] body = new byte[size];
        java.util.Arrays.fill(body, (byte) 'x');
        lengthPrefixed = new ReplayConnection(repeat(LengthFieldEncoder.standard().encode(body)));
        lines = new ReplayConnection(repeat(DelimiterEncoder.lines().encode(body)));
        lengthFieldReader = LengthFieldReader.builder().build((sender, frame) -> blackhole.consume(frame));
        lineReader = DelimiterReader.builder().lines().build((sender, frame) -> blackhole.consume(frame));
    }

    private static byte[] repeat(byte[] frame) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < FRAMES; i++) {
            out.writeBytes(frame);
        }
        return out.toByteArray();
    }

    @Benchmark
    @OperationsPerInvocation(FRAMES)
    public void lengthField() throws Exception {
        lengthPrefixed.rewind();
        for (int i = 0; i < FRAMES; i++) {
            lengthFieldReader.read(null, lengthPrefixed);
        }
    }

    @Benchmark
    @OperationsPerInvocation(FRAMES)
    public void lines() throws Exception {
        lines.rewind();
        for (int i = 0; i < FRAMES; i++) {
            lineReader.read(null, lines);
        }
    }
}
