package io.stcp;

/**
 * A {@link TcpClient} has no connection to send on: it is connecting, waiting to reconnect, gave
 * up, or was closed. Cheap, like every {@link SendException}: no stack trace.
 */
public final class NotConnectedException extends SendException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception. */
    public NotConnectedException(String message) {
        super(message);
    }
}
