/**
 * Sends to a user, a group or every connection across several stcp servers (nodes):
 * {@link io.stcp.cluster.ClusterFanout}, with presence and pub/sub in Redis
 * ({@link io.stcp.cluster.RedisBus}), configured by {@link io.stcp.cluster.ClusterConfig}.
 *
 * <p>Everything in this package is {@link org.jspecify.annotations.NullMarked null-marked}: no
 * parameter or return value is null unless it is annotated {@code @Nullable}.
 */
@NullMarked
package io.stcp.cluster;

import org.jspecify.annotations.NullMarked;
