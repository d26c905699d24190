/**
 * The stcp API: {@link io.stcp.TcpServer} accepts connections and runs one blocking
 * {@link io.stcp.ConnectionReader} per connection on its own virtual thread; replies are queued on
 * the connection's {@link io.stcp.Sender} (usually a {@link io.stcp.QueueSender}), which a second
 * virtual thread writes. {@link io.stcp.ServerConfig} holds the server's settings.
 *
 * <p>Everything in this package is {@link org.jspecify.annotations.NullMarked null-marked}: no
 * parameter or return value is null unless it is annotated {@code @Nullable}.
 */
@NullMarked
package io.stcp;

import org.jspecify.annotations.NullMarked;
