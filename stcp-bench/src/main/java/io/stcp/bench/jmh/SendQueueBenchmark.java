package io.stcp.bench.jmh;

import io.stcp.OverflowPolicy;
import io.stcp.internal.DirectChunks;
import io.stcp.internal.QueueLimits;
import io.stcp.internal.SendQueue;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The send queue's hot paths on one thread: put a batch of messages then drain it as the send
 * loop does, plain and with keyed conflation (every put after the first round replaces a queued
 * message). The score is per batch.
 * Run: {@code java -cp stcp-bench/target/stcp-bench.jar org.openjdk.jmh.Main SendQueueBenchmark}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SendQueueBenchmark {
    @Param({"1", "16", "256"})
    int batch;

    private final byte[] message = new byte[64];
    private final Object[] out = new Object[1024];
    private SendQueue plain;
    private SendQueue keyed;
    private Integer[] keys;

    @Setup
    public void setup() {
        plain = new SendQueue(new QueueLimits(0, 0, OverflowPolicy.FAIL, 0, false, new DirectChunks(0)), null);
        keyed = new SendQueue(new QueueLimits(0, 0, OverflowPolicy.FAIL, 0, true, new DirectChunks(0)), null);
        keys = new Integer[batch];
        for (int i = 0; i < batch; i++) {
            keys[i] = i;
        }
    }

    /** Per message: put, then drain the batch at once. */
    @Benchmark
    public int putThenDrain() throws Exception {
        for (int i = 0; i < batch; i++) {
            plain.put(message, false);
        }
        int n = plain.drain(out, Long.MAX_VALUE, 1024);
        return n;
    }

    /** Each key put twice before the drain: the second put replaces in place. */
    @Benchmark
    public int keyedReplaceThenDrain() throws Exception {
        for (int i = 0; i < batch; i++) {
            keyed.put(keys[i], message, false);
        }
        for (int i = 0; i < batch; i++) {
            keyed.put(keys[i], message, false);
        }
        int n = keyed.drain(out, Long.MAX_VALUE, 1024);
        return n;
    }
}
