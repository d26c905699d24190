package io.stcp.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
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
 * A connection's {@code readInt} and {@code readBytes} of length-prefixed frames from memory, as
 * on a native transport (pooled read buffers, large once frames fill a small one): what the echo
 * reader does per frame before it replies. The score is per frame. In this package because the
 * connection's input is not public API.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ReadBytesBenchmark {
    static final int FRAMES = 64;

    /** The body's length; the frame has a 4-byte header too. */
    @Param({"60", "16380"})
    int size;

    private final MemoryTransport transport = new MemoryTransport();
    private final ConnectionInput input = new ConnectionInput(transport, true, null, 0, 0, () -> {});
    private byte[][] frames;

    @Setup
    public void setUp() {
        frames = new byte[FRAMES][];
        for (int i = 0; i < FRAMES; i++) {
            frames[i] = ByteBuffer.allocate(4 + size).putInt(size).put(new byte[size]).array();
        }
    }

    @Benchmark
    @OperationsPerInvocation(FRAMES)
    public void readFrames(Blackhole bh) throws IOException {
        for (byte[] frame : frames) {
            transport.feed(frame); // one frame per read, as a peer with one in flight sends them
            bh.consume(input.readBytes(input.readInt(true)));
        }
    }
}
