package io.stcp.bench.jmh;

import io.stcp.internal.Threads;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Starting and ending stcp's virtual threads, {@value #BATCH} at a time: what a read loop pays per
 * message when it resumes on a new thread (its thread runs the reader and ends). The score is per
 * thread, start to end, with the scheduler's carriers doing the running.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ThreadStartBenchmark {
    static final int BATCH = 256;

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void startAndEnd() throws InterruptedException {
        CountDownLatch ended = new CountDownLatch(BATCH);
        for (int i = 0; i < BATCH; i++) {
            Threads.start("stcp-bench", ended::countDown);
        }
        ended.await();
    }
}
