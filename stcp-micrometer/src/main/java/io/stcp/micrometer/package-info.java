/**
 * Micrometer meters for stcp: {@link io.stcp.micrometer.TcpServerMetrics} binds everything
 * {@link io.stcp.TcpServer#stats()} counts to a {@code MeterRegistry}, and
 * {@link io.stcp.micrometer.QueueMemoryMetrics} the direct memory of queued large messages, which
 * the whole process shares.
 *
 * <p>Everything in this package is {@link org.jspecify.annotations.NullMarked null-marked}: no
 * parameter or return value is null unless it is annotated {@code @Nullable}.
 */
@NullMarked
package io.stcp.micrometer;

import org.jspecify.annotations.NullMarked;
