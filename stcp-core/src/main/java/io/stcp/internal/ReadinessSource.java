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
     * {@link SocketCalls}) must work on a descriptor of its own — a duplicate of the channel's,
     * which only it closes, when told to ({@link Readiness#closeDescriptor()}) — never on the
     * channel's: the application can close the channel ({@code Connection.channel()}), and the
     * kernel would give its number to the next socket opened, another client's, while a call of
     * stcp's was about to name it.
     *
     * @throws IOException if the socket cannot be watched; the caller closes the channel
     */
    Readiness register(SocketChannel channel) throws IOException;

    /**
     * The read and write calls this source can make on its sockets' descriptors, or {@code null}
     * to use the JDK channel's.
     */
    default SocketCalls socketCalls() {
        return null;
    }
}
