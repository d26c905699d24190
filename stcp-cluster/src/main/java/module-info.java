/**
 * Cluster-wide sends for stcp servers: {@link io.stcp.cluster.ClusterFanout} sends to a user, a
 * group or every connection on every node, through a {@link io.stcp.cluster.ClusterBus} (Redis:
 * {@link io.stcp.cluster.RedisBus}).
 */
module io.stcp.cluster {
    requires transitive io.stcp;
    requires redis.clients.jedis;
    requires org.apache.commons.pool2;
    requires static org.jspecify;

    exports io.stcp.cluster;
}
