/**
 * Micrometer meters for stcp servers: {@link io.stcp.micrometer.TcpServerMetrics}, and for the send
 * queues' direct memory: {@link io.stcp.micrometer.QueueMemoryMetrics}.
 */
module io.stcp.micrometer {
    requires transitive io.stcp;
    requires transitive micrometer.core;

    exports io.stcp.micrometer;
}
