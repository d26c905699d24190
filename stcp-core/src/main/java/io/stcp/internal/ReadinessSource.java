package io.stcp.internal;

import java.io.IOException;
import java.nio.channels.SocketChannel;

/**
 * A native transport: watches non-blocking sockets with one registration each for their lifetime
 * and reports their edges to a {@link Readiness}. Found with {@link java.util.ServiceLoader}; the
 * {@code stcp-epoll} module provides one for Linux. Not a public API: the package is exported only
 * to stcp's own modules.
 *
 * <p>A source that can no longer tell a socket's edges (its poller failed signalling it, or died)
 * must {@link Readiness#fail} it rather than drop it: the socket's reader and writer then throw
 * instead of waiting for an edge that will not come.
 */
public interface ReadinessSource {

    /** A short name for logs, such as {@code epoll}. */
    String name();

    /** Why this source cannot be used in this JVM, or {@code null} if it can. Cheap; called once. */
    String unavailableReason();

    /**
     * Registers a connected channel that the caller has made non-blocking.
     *
     * <p>A source that names the socket by a descriptor number (in its registration, in
     * {@link SocketCalls}) names the channel's own: one descriptor per connection. Only the
     * connection's transport closes the channel ({@link ReadinessTransport}), after
     * {@link Readiness#close()} and once no call on the number is under way, so the number does
     * not pass to another socket while stcp may still name it; nothing the application does
     * through {@code Connection.channel()} closes it (its close is the connection's). Closing the
     * socket by its raw number (a native {@code close}) is outside the contract, as on Netty.
     * A registration's events must carry a token that no later registration of the same number
     * has: an event still in flight for a closed socket must not be taken for the next one's.
     *
     * @throws IOException if the socket cannot be watched; the caller closes the channel
     */
    Readiness register(SocketChannel channel) throws IOException;

    /**
     * As {@link #register}, for a channel the application holds too ({@code Connection.of}): it
     * may close it at any time, with the JDK's own {@code close()}, freeing its number. A source
     * that names the socket by a descriptor number must then name a duplicate of the channel's,
     * which only it closes, when told to ({@link Readiness#closeDescriptor()}): one descriptor
     * more for such a connection.
     *
     * @throws IOException if the socket cannot be watched; the caller closes the channel
     */
    default Readiness registerShared(SocketChannel channel) throws IOException {
        return register(channel);
    }

    /**
     * The read and write calls this source can make on its sockets' descriptors, or {@code null}
     * to use the JDK channel's.
     */
    default SocketCalls socketCalls() {
        return null;
    }
}
