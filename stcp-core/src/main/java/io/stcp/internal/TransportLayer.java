package io.stcp.internal;

import java.io.IOException;

/**
 * A layer between a connection's socket and its decoder — TLS, a PROXY-protocol header — opened
 * once per connection, on the connection's own thread, before the sender factory and the hooks
 * run. The server's {@link ConnectionContext#layers()} are opened in order, the first one next to
 * the socket; each wraps the transport the previous one returned.
 *
 * <p>A layer may read and write what it must first (a header, a handshake), within the deadline it
 * is given (the first-frame deadline; 0 = none) and any bound of its own, and may tell the
 * connection what it learned through the connection's package-private setters. Bytes it read past
 * its own part belong to the layer above and must be served by the transport it returns.
 */
interface TransportLayer {

    /**
     * Opens this layer over {@code under}.
     *
     * @return the transport the connection uses from now on ({@code under} itself if the layer
     *     has nothing more to do)
     * @throws IOException to refuse the connection: it is closed, with the reason the exception
     *     stands for ({@link io.stcp.ReadTimeoutException}s as timeouts, others as protocol errors)
     */
    Transport open(Transport under, RealConnection connection, long deadlineNanos) throws IOException;
}
