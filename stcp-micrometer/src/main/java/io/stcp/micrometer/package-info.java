/**
 * Micrometer meters for stcp: {@link io.stcp.micrometer.TcpServerMetrics} binds everything
 * {@link io.stcp.TcpServer#stats()} counts to a {@code MeterRegistry}.
 *
 * <p>Everything in this package is {@link org.jspecify.annotations.NullMarked null-marked}: no
 * parameter or return value is null unless it is annotated {@code @Nullable}.
 */
@NullMarked
package io.stcp.micrometer;

import org.jspecify.annotations.NullMarked;
