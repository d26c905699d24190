package io.stcp.internal;

import io.stcp.OverflowPolicy;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Send queues of in-memory connections sharing one outbound budget, for tests of what a put does
 * when the budget is spent; nobody drains them but the test. Each holds up to 64 messages and
 * 1 MiB.
 */
final class BudgetedQueues {
    final OutboundBudget budget;
    private final List<SendQueue> queues = new ArrayList<>();

    BudgetedQueues(long limitBytes) {
        budget = new OutboundBudget(limitBytes);
    }

    SendQueue queue(OverflowPolicy policy) {
        return queue(policy, false);
    }

    SendQueue queue(OverflowPolicy policy, boolean conflate) {
        ConnectionContext context = new ConnectionContext(Sweeper.SHARED, null, Transports.sourceOrNull(), ExitLog.SHARED,
                Nanos.timeout(Duration.ofSeconds(30)), 0, 0, 0, List.of(), budget);
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", 1);
        MemoryTransport memory = new MemoryTransport();
        RealConnection c = new RealConnection(null, address, address, true, context, x -> memory);
        SendQueue q = new SendQueue(new QueueLimits(64, 1 << 20, policy, 0, conflate, new DirectChunks(0)), c);
        queues.add(q);
        return q;
    }

    /** A put of {@code length} bytes into {@code q} on a thread of its own: what it returned or threw. */
    static CompletableFuture<Object> putOnItsOwnThread(SendQueue q, int length, boolean patient) {
        CompletableFuture<Object> result = new CompletableFuture<>();
        Thread.ofPlatform().name("budget-put").start(() -> {
            try {
                q.put(new byte[length], patient);
                result.complete(Boolean.TRUE);
            } catch (Throwable t) {
                result.complete(t);
            }
        });
        return result;
    }

    /** Closes every queue made here: each gives back what it held of the budget. */
    void closeAll() {
        queues.forEach(SendQueue::close);
    }
}
