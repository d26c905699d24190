/** Micrometer meters for stcp servers: {@link io.stcp.micrometer.TcpServerMetrics}. */
module io.stcp.micrometer {
    requires transitive io.stcp;
    requires transitive micrometer.core;

    exports io.stcp.micrometer;
}
