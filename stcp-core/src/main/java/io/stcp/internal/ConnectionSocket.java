package io.stcp.internal;

import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.net.SocketImpl;
import java.net.SocketOption;
import java.nio.channels.SocketChannel;
import java.util.Set;

/**
 * What {@code Connection.channel().socket()} returns: the JDK channel's socket adaptor, every call
 * passed to it, except those that would close the JDK channel alone — {@link #close()}, and the
 * close of its streams — which close the connection ({@code Connection.close()}), as
 * {@link ConnectionChannel#close()} does; and {@link #getChannel()}, which is the
 * {@link ConnectionChannel}. Closing the JDK channel alone would bypass the transport: on epoll
 * stcp makes its own system calls on the channel's descriptor, which only its transport may close.
 * Its streams refuse to read or write on a non-blocking channel (IllegalBlockingModeException,
 * before any interruptible call), and {@link #sendUrgentData} on one does not close it on an
 * interrupt.
 *
 * <p>Built as the JDK builds its adaptor: a {@link Socket} over a {@link SocketImpl} that refuses
 * everything ({@link Refused}), every public method overridden. A method a later JDK adds, and
 * this class does not pass on, reaches that impl and throws: it never acts on a socket of its own.
 */
final class ConnectionSocket extends Socket {
    private final Socket socket;              // the JDK channel's adaptor
    private final ConnectionChannel channel;  // whose close is the connection's

    ConnectionSocket(Socket socket, ConnectionChannel channel) throws SocketException {
        super(new Refused());
        this.socket = socket;
        this.channel = channel;
    }

    /** The connection's close, as the channel's. */
    @Override
    public void close() throws IOException {
        channel.close();
    }

    @Override
    public SocketChannel getChannel() {
        return channel;
    }

    @Override
    public boolean isClosed() {
        return !channel.isOpen() || socket.isClosed();
    }

    /** The adaptor's stream; its close is the connection's. */
    @Override
    public InputStream getInputStream() throws IOException {
        return new FilterInputStream(socket.getInputStream()) {
            @Override
            public void close() throws IOException {
                channel.close();
            }
        };
    }

    /** The adaptor's stream; its close is the connection's. */
    @Override
    public OutputStream getOutputStream() throws IOException {
        return new FilterOutputStream(socket.getOutputStream()) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len); // FilterOutputStream's would write byte by byte
            }

            @Override
            public void close() throws IOException {
                channel.close();
            }
        };
    }

    // ---------------------------------------------------------------- passed on to the adaptor

    @Override
    public void connect(SocketAddress endpoint) throws IOException {
        socket.connect(endpoint);
    }

    @Override
    public void connect(SocketAddress endpoint, int timeout) throws IOException {
        socket.connect(endpoint, timeout);
    }

    @Override
    public void bind(SocketAddress bindpoint) throws IOException {
        socket.bind(bindpoint);
    }

    @Override
    public InetAddress getInetAddress() {
        return socket.getInetAddress();
    }

    @Override
    public InetAddress getLocalAddress() {
        return socket.getLocalAddress();
    }

    @Override
    public int getPort() {
        return socket.getPort();
    }

    @Override
    public int getLocalPort() {
        return socket.getLocalPort();
    }

    @Override
    public SocketAddress getRemoteSocketAddress() {
        return socket.getRemoteSocketAddress();
    }

    @Override
    public SocketAddress getLocalSocketAddress() {
        return socket.getLocalSocketAddress();
    }

    @Override
    public void setTcpNoDelay(boolean on) throws SocketException {
        socket.setTcpNoDelay(on);
    }

    @Override
    public boolean getTcpNoDelay() throws SocketException {
        return socket.getTcpNoDelay();
    }

    @Override
    public void setSoLinger(boolean on, int linger) throws SocketException {
        socket.setSoLinger(on, linger);
    }

    @Override
    public int getSoLinger() throws SocketException {
        return socket.getSoLinger();
    }

    @Override
    public void sendUrgentData(int data) throws IOException {
        socket.sendUrgentData(data);
    }

    @Override
    public void setOOBInline(boolean on) throws SocketException {
        socket.setOOBInline(on);
    }

    @Override
    public boolean getOOBInline() throws SocketException {
        return socket.getOOBInline();
    }

    @Override
    public void setSoTimeout(int timeout) throws SocketException {
        socket.setSoTimeout(timeout);
    }

    @Override
    public int getSoTimeout() throws SocketException {
        return socket.getSoTimeout();
    }

    @Override
    public void setSendBufferSize(int size) throws SocketException {
        socket.setSendBufferSize(size);
    }

    @Override
    public int getSendBufferSize() throws SocketException {
        return socket.getSendBufferSize();
    }

    @Override
    public void setReceiveBufferSize(int size) throws SocketException {
        socket.setReceiveBufferSize(size);
    }

    @Override
    public int getReceiveBufferSize() throws SocketException {
        return socket.getReceiveBufferSize();
    }

    @Override
    public void setKeepAlive(boolean on) throws SocketException {
        socket.setKeepAlive(on);
    }

    @Override
    public boolean getKeepAlive() throws SocketException {
        return socket.getKeepAlive();
    }

    @Override
    public void setTrafficClass(int tc) throws SocketException {
        socket.setTrafficClass(tc);
    }

    @Override
    public int getTrafficClass() throws SocketException {
        return socket.getTrafficClass();
    }

    @Override
    public void setReuseAddress(boolean on) throws SocketException {
        socket.setReuseAddress(on);
    }

    @Override
    public boolean getReuseAddress() throws SocketException {
        return socket.getReuseAddress();
    }

    @Override
    public void shutdownInput() throws IOException {
        socket.shutdownInput();
    }

    @Override
    public void shutdownOutput() throws IOException {
        socket.shutdownOutput();
    }

    @Override
    public boolean isConnected() {
        return socket.isConnected();
    }

    @Override
    public boolean isBound() {
        return socket.isBound();
    }

    @Override
    public boolean isInputShutdown() {
        return socket.isInputShutdown();
    }

    @Override
    public boolean isOutputShutdown() {
        return socket.isOutputShutdown();
    }

    @Override
    public void setPerformancePreferences(int connectionTime, int latency, int bandwidth) {
        socket.setPerformancePreferences(connectionTime, latency, bandwidth);
    }

    @Override
    public <T> Socket setOption(SocketOption<T> name, T value) throws IOException {
        socket.setOption(name, value);
        return this;
    }

    @Override
    public <T> T getOption(SocketOption<T> name) throws IOException {
        return socket.getOption(name);
    }

    @Override
    public Set<SocketOption<?>> supportedOptions() {
        return socket.supportedOptions();
    }

    @Override
    public String toString() {
        return socket.toString();
    }

    /** The impl under {@link ConnectionSocket}: never used, as every call is passed on; refuses all. */
    private static final class Refused extends SocketImpl {
        private static SocketException refused() {
            return new SocketException("not supported by the connection's socket");
        }

        @Override
        protected void create(boolean stream) throws IOException {
            throw refused();
        }

        @Override
        protected void connect(String host, int port) throws IOException {
            throw refused();
        }

        @Override
        protected void connect(InetAddress address, int port) throws IOException {
            throw refused();
        }

        @Override
        protected void connect(SocketAddress address, int timeout) throws IOException {
            throw refused();
        }

        @Override
        protected void bind(InetAddress host, int port) throws IOException {
            throw refused();
        }

        @Override
        protected void listen(int backlog) throws IOException {
            throw refused();
        }

        @Override
        protected void accept(SocketImpl s) throws IOException {
            throw refused();
        }

        @Override
        protected InputStream getInputStream() throws IOException {
            throw refused();
        }

        @Override
        protected OutputStream getOutputStream() throws IOException {
            throw refused();
        }

        @Override
        protected int available() throws IOException {
            throw refused();
        }

        @Override
        protected void close() throws IOException {
            // nothing was opened
        }

        @Override
        protected void sendUrgentData(int data) throws IOException {
            throw refused();
        }

        @Override
        public void setOption(int optID, Object value) throws SocketException {
            throw refused();
        }

        @Override
        public Object getOption(int optID) throws SocketException {
            throw refused();
        }
    }
}
