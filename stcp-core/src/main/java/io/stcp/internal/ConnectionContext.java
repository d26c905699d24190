package io.stcp.internal;

import io.stcp.ServerConfig;

/**
 * What a server gives each of its connections: where they register for periodic checks, the
 * inbound budget they share, how they log their end, and the timeouts of the configuration.
 * Connections made outside a server ({@code Connection.of}) share {@link #STANDALONE}.
 *
 * @param sweeper runs write deadlines and write-idle actions
 * @param budget the inbound budget, or null for none
 * @param source the native transport, or null for the JDK's sockets
 * @param exitLog rate limits for failure lines
 * @param writeTimeoutNanos 0 = none
 * @param readIdleTimeoutNanos 0 = none
 * @param firstFrameTimeoutNanos 0 = none
 * @param frameTimeoutNanos 0 = none
 */
record ConnectionContext(Sweeper sweeper, InboundBudget budget, ReadinessSource source, ExitLog exitLog,
                         long writeTimeoutNanos, long readIdleTimeoutNanos, long firstFrameTimeoutNanos,
                         long frameTimeoutNanos) {

    static final ConnectionContext STANDALONE = new ConnectionContext(Sweeper.SHARED, null, null, ExitLog.SHARED,
            Nanos.timeout(ServerConfig.DEFAULT_WRITE_TIMEOUT), 0, 0, Nanos.timeout(ServerConfig.DEFAULT_FRAME_TIMEOUT));

    /** The context of a server's connections. */
    static ConnectionContext of(ServerConfig config, Sweeper sweeper, InboundBudget budget, ReadinessSource source,
                                ExitLog exitLog) {
        return new ConnectionContext(sweeper, budget, source, exitLog, Nanos.timeout(config.writeTimeout()),
                Nanos.timeout(config.readIdleTimeout()), Nanos.timeout(config.firstFrameTimeout()),
                Nanos.timeout(config.frameTimeout()));
    }
}
