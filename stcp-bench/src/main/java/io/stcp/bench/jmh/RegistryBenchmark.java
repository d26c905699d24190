package io.stcp.bench.jmh;

import io.stcp.OverflowPolicy;
import io.stcp.QueueSender;
import io.stcp.SendResult;
import io.stcp.internal.RealConnectionRegistry;
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
 * The connection registry on one thread, with {@code connections} members whose senders have no
 * send loop (so this is the cost on the broadcasting thread: the registry's iteration and one
 * queue put per recipient, no thread wake-ups or writes — {@code stcp-bench broadcast} measures
 * those end to end).
 *
 * <ul>
 *   <li>{@code broadcast}: one 64-byte message to every connection; each queue holds one message
 *       and drops the oldest (a steady state that never grows);</li>
 *   <li>{@code putToEachDirectly}: the baseline, the same puts from a plain loop without the registry;</li>
 *   <li>{@code broadcastKeyed}: the same under a key into conflating queues (replaced in place);</li>
 *   <li>{@code joinAndLeave}: a connection joins a group of {@code connections} members and leaves
 *       it again, as a pair;</li>
 *   <li>{@code bindAndUnbindUser}: a connection is bound to a user and unbound, as a pair;</li>
 *   <li>{@code addAndRemove}: a connection is registered and removed, as a server does at its start
 *       and exit (with one group binding removed along with it).</li>
 * </ul>
 * Run: {@code java -jar stcp-bench/target/stcp-bench.jar jmh RegistryBenchmark}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class RegistryBenchmark {
    @Param({"10000"})
    int connections;

    private final byte[] message = new byte[64];
    private RealConnectionRegistry registry;
    private RealConnectionRegistry keyedRegistry;
    private QueueSender[] members;
    private QueueSender extra;
    private int next;

    @Setup
    public void setup() {
        registry = new RealConnectionRegistry();
        keyedRegistry = new RealConnectionRegistry();
        members = new QueueSender[connections];
        for (int i = 0; i < connections; i++) {
            members[i] = QueueSender.options().capacity(1).overflow(OverflowPolicy.DROP_OLDEST).build(new NullConnection(i));
            registry.add(members[i]);
            registry.joinGroup(members[i], "room");
            keyedRegistry.add(QueueSender.options().conflating(true).build(new NullConnection(i)));
        }
        extra = QueueSender.options().build(new NullConnection(connections));
    }

    @Benchmark
    public SendResult broadcast() {
        return registry.broadcast(message);
    }

    /** The baseline: the same puts from a plain loop over the senders, without the registry. */
    @Benchmark
    public int putToEachDirectly() {
        for (QueueSender s : members) {
            s.put(message);
        }
        return members.length;
    }

    @Benchmark
    public SendResult broadcastKeyed() {
        return keyedRegistry.broadcast("quote", message);
    }

    @Benchmark
    public boolean joinAndLeave() {
        QueueSender s = members[next++ % connections];
        registry.leaveGroup(s, "room");
        return registry.joinGroup(s, "room");
    }

    @Benchmark
    public boolean bindAndUnbindUser() {
        QueueSender s = members[next++ % connections];
        registry.bindUser(s, "alice");
        return registry.unbindUser(s);
    }

    @Benchmark
    public int addAndRemove() {
        registry.add(extra);
        registry.joinGroup(extra, "lobby");
        registry.remove(extra.connection().id());
        return registry.connectionCount();
    }
}
