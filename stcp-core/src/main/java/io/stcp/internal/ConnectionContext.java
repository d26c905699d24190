package io.stcp.internal;

import io.stcp.ProxyProtocol;
import io.stcp.ServerConfig;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What a server gives each of its connections: where they register for periodic checks, the
 * inbound and outbound budgets they share, how they log their end, and the timeouts of the configuration.
 * Connections made outside a server or a client ({@code Connection.of}) share {@link #standalone()}.
 *
 * @param sweeper runs write deadlines and write-idle actions
 * @param budget the inbound budget, or null for none
 * @param source the native transport, or null for the JDK's sockets
 * @param exitLog rate limits for failure lines
 * @param writeTimeoutNanos 0 = none
 * @param readIdleTimeoutNanos 0 = none
 * @param firstFrameTimeoutNanos 0 = none
 * @param frameTimeoutNanos 0 = none
 * @param layers opened over the socket in order, on each connection's thread (TLS, PROXY protocol)
 * @param outboundBudget what the send queues of the connections may hold together, or null for no limit
 */
public record ConnectionContext(Sweeper sweeper, InboundBudget budget, ReadinessSource source, ExitLog exitLog,
                         long writeTimeoutNanos, long readIdleTimeoutNanos, long firstFrameTimeoutNanos,
                         long frameTimeoutNanos, List<TransportLayer> layers, @Nullable OutboundBudget outboundBudget) {

    public ConnectionContext {
        layers = List.copyOf(layers);
    }

    /** A context with no outbound budget. */
    public ConnectionContext(Sweeper sweeper, InboundBudget budget, ReadinessSource source, ExitLog exitLog,
                             long writeTimeoutNanos, long readIdleTimeoutNanos, long firstFrameTimeoutNanos,
                             long frameTimeoutNanos, List<TransportLayer> layers) {
        this(sweeper, budget, source, exitLog, writeTimeoutNanos, readIdleTimeoutNanos, firstFrameTimeoutNanos,
                frameTimeoutNanos, layers, null);
    }

    /**
     * The context of connections made outside a server or a client ({@code Connection.of}): see
     * {@link StandaloneContext}.
     *
     * @throws IllegalStateException if {@value StandaloneContext#PROPERTY} is not a number of bytes &gt;= 0
     */
    public static ConnectionContext standalone() {
        return StandaloneContext.get();
    }

    /**
     * The context of the test kit's in-memory connections ({@code stcp-test}) made with a server's
     * configuration: its write, read-idle, first-frame and frame timeouts, and inbound and outbound
     * budgets of its sizes, each shared by every connection made with this context, as a server's
     * connections share them; the shared sweeper, no native transport. The settings of the
     * listening socket (address, accepting, limits, backlog) do not apply to a connection without one.
     *
     * @throws IllegalArgumentException if {@code config} has TLS or the PROXY protocol, which need
     *     a socket and a peer that speaks them
     */
    public static ConnectionContext inMemory(ServerConfig config) {
        if (config.tls() != null) {
            throw new IllegalArgumentException("config: TLS needs a socket; test a TLS reader with a TcpServer on loopback");
        }
        if (config.proxyProtocol().mode() != ProxyProtocol.Mode.OFF) {
            throw new IllegalArgumentException("config: the PROXY protocol needs a socket; test it with a TcpServer on loopback");
        }
        return of(config, Sweeper.SHARED, new InboundBudget(config.effectiveInboundBudget()), null, ExitLog.SHARED, List.of());
    }

    /** The context of a server's connections, with an outbound budget of the configuration's size. */
    static ConnectionContext of(ServerConfig config, Sweeper sweeper, InboundBudget budget, ReadinessSource source,
                                ExitLog exitLog, List<TransportLayer> layers) {
        return new ConnectionContext(sweeper, budget, source, exitLog, Nanos.timeout(config.writeTimeout()),
                Nanos.timeout(config.readIdleTimeout()), Nanos.timeout(config.firstFrameTimeout()),
                Nanos.timeout(config.frameTimeout()), layers, new OutboundBudget(config.effectiveOutboundBudget()));
    }
}
