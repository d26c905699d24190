package io.stcp.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.Socket;
import java.net.SocketException;
import java.nio.channels.IllegalBlockingModeException;
import java.nio.channels.SocketChannel;

/**
 * What {@code Connection.channel()} returns: the connection's JDK channel, every call passed to
 * it, except three that belong to the connection:
 * <ul>
 *   <li>{@link #close()} closes the connection ({@code Connection.close()}: reason
 *       {@code CLOSED}, exit hooks once), on every transport. Closing the JDK channel alone would
 *       bypass the transport: on epoll stcp makes its own system calls on the channel's
 *       descriptor, and only its transport may close it, once none is under way (see
 *       {@code ReadinessTransport}), or a call could name the next socket given the number;</li>
 *   <li>the blocking mode is stcp's: the JDK transport reads blocking, the others non-blocking.
 *       {@link #configureBlocking} to the other mode throws {@link IllegalBlockingModeException};</li>
 *   <li>{@link #socket()} is the JDK channel's socket adaptor but for its close, its streams' close
 *       and its channel, which are this one's ({@link ConnectionSocket}).</li>
 * </ul>
 * Reads and writes go to the JDK channel: on a non-blocking one (every transport but the JDK's
 * TCP sockets) an interrupt of the calling thread does not close it, as the JDK closes a channel on
 * an interrupt only in a call that may block; the JDK defers its close until its calls under way
 * have returned.
 * Registering it with a selector throws too (the JDK's selectors take only their own channels).
 * Made by the connection's first {@code channel()} call ({@link ConnectionClose#channel}), so a
 * connection that never calls it costs nothing.
 *
 * <p>{@link #isOpen()} is false once it is closed, by the application or by the connection's own
 * close ({@link #connectionClosed}), which closes it too.
 */
public final class ConnectionChannel extends ForwardingSocketChannel {
    private static final VarHandle SOCKET = Fields.handle(MethodHandles.lookup(), "socket", ConnectionSocket.class);
    private final RealConnection connection;
    private volatile ConnectionSocket socket; // made by the first socket() call

    ConnectionChannel(SocketChannel channel, RealConnection connection) {
        super(channel);
        this.connection = connection;
        if (!channel.isBlocking()) {
            try {
                configureBlocking(false); // the channel's mode: implConfigureBlocking agrees
            } catch (IOException e) {
                throw new UncheckedIOException(e); // only a closed channel refuses, and this one is new
            }
        }
    }

    /** The JDK channel under it; for stcp's modules and tests. */
    public SocketChannel jdkChannel() {
        return channel;
    }

    /** The JDK channel's socket adaptor, but closing the connection; one for the channel's life. */
    @Override
    public Socket socket() {
        ConnectionSocket s = socket;
        if (s == null) {
            try {
                s = new ConnectionSocket(channel.socket(), this);
            } catch (SocketException e) {
                throw new UncheckedIOException(e); // Socket's constructor declares it, and never throws it
            }
            if (!SOCKET.compareAndSet(this, null, s)) {
                s = socket;
            }
        }
        return s;
    }

    /** The connection has closed: this channel says so too. Never throws. */
    void connectionClosed() {
        Quietly.close(this, "channel"); // closes the connection again: a no-op, it is closed already
    }

    @Override
    protected void implCloseSelectableChannel() {
        connection.close();
    }

    @Override
    protected void implConfigureBlocking(boolean block) {
        if (block != channel.isBlocking()) {
            throw new IllegalBlockingModeException(); // stcp's transport depends on the mode it set
        }
    }

    @Override
    public String toString() {
        return channel.toString();
    }
}
