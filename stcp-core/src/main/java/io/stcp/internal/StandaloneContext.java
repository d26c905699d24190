package io.stcp.internal;

import io.stcp.ServerConfig;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The context of connections made outside a server or a client ({@code Connection.of}, and the test
 * kit's in-memory connections made without a configuration): the shared sweeper, the transport
 * chosen by {@value Transports#PROPERTY}, the default write and frame timeouts, and one inbound
 * budget that all of them share, made with the first of them.
 *
 * <p>The budget is what a server's {@code inboundBudget} is for its connections: without one, a
 * peer that announced a frame near 2 GiB to a reader whose own limit allowed it had its array grow
 * to four times the bytes that had arrived, and sending slowly ran the JVM out of memory. There is
 * no configuration object where such connections are made, so its size is the system property
 * {@value #PROPERTY}, read once, as the process-wide pool of {@link DirectChunks} is sized; one
 * budget for the process, not one per connection, since it is all of them together that must fit
 * the heap.
 */
public final class StandaloneContext {
    /** The system property that sizes the budget, in bytes; unset or 0: an eighth of the maximum heap, as a server's. */
    public static final String PROPERTY = "io.stcp.standalone.inboundBudget";

    private StandaloneContext() {}

    /**
     * The context, made by the first call.
     *
     * @throws IllegalStateException if {@value #PROPERTY} is not a number of bytes &gt;= 0
     */
    static ConnectionContext get() {
        ConnectionContext c = Holder.CONTEXT;
        if (c == null) {
            throw new IllegalStateException(Holder.ERROR);
        }
        return c;
    }

    /**
     * The budget the property's {@code value} sets: the bytes it says, or for unset or 0 an eighth
     * of {@code maxHeap}, at least 1 MiB (as {@link ServerConfig#effectiveInboundBudget()}); -1
     * when it is not a number of bytes.
     */
    static long budgetOf(@Nullable String value, long maxHeap) {
        long bytes = NumberProperty.nonNegative(value, 0);
        return bytes != 0 ? bytes : Math.max(1L << 20, maxHeap / 8);
    }

    private static final class Holder {
        static final @Nullable ConnectionContext CONTEXT;
        static final @Nullable String ERROR;

        static {
            String value = System.getProperty(PROPERTY);
            long budget = budgetOf(value, Runtime.getRuntime().maxMemory());
            ERROR = budget < 0 ? PROPERTY + "=" + value + " (expected: a number of bytes >= 0, 0 = an eighth of the maximum heap)" : null;
            CONTEXT = budget < 0 ? null : new ConnectionContext(Sweeper.SHARED,
                    new InboundBudget(budget, "standalone connections'", "-D" + PROPERTY),
                    Transports.sourceOrNull(), ExitLog.SHARED, Nanos.timeout(ServerConfig.DEFAULT_WRITE_TIMEOUT), 0, 0,
                    Nanos.timeout(ServerConfig.DEFAULT_FRAME_TIMEOUT), List.of());
        }
    }
}
