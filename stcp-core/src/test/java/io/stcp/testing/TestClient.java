package io.stcp.testing;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;

/**
 * A blocking loopback client speaking 4-byte big-endian length-prefixed frames. Every read has a
 * 10s timeout, so a broken server fails the test instead of hanging it.
 */
public final class TestClient implements AutoCloseable {
    public static final int READ_TIMEOUT_MILLIS = 10_000;

    private final Socket socket;
    private final DataInputStream in;
    private final DataOutputStream out;

    private TestClient(Socket socket) throws IOException {
        this.socket = socket;
        socket.setSoTimeout(READ_TIMEOUT_MILLIS);
        socket.setTcpNoDelay(true);
        this.in = new DataInputStream(socket.getInputStream());
        this.out = new DataOutputStream(socket.getOutputStream());
    }

    public static TestClient connect(InetSocketAddress address) throws IOException {
        Socket s = new Socket();
        try {
            s.connect(new InetSocketAddress("127.0.0.1", address.getPort()), READ_TIMEOUT_MILLIS);
            return new TestClient(s);
        } catch (IOException e) {
            s.close();
            throw e;
        }
    }

    /**
     * Connects from {@code localHost} (any loopback address works: Linux routes all of 127/8 to
     * the loopback interface), so a server sees a client of that address.
     */
    public static TestClient connectFrom(String localHost, InetSocketAddress address) throws IOException {
        Socket s = new Socket();
        try {
            s.bind(new InetSocketAddress(localHost, 0));
            s.connect(new InetSocketAddress("127.0.0.1", address.getPort()), READ_TIMEOUT_MILLIS);
            return new TestClient(s);
        } catch (IOException e) {
            s.close();
            throw e;
        }
    }

    /** The client socket's own address, as the server sees it. */
    public InetSocketAddress localAddress() {
        return (InetSocketAddress) socket.getLocalSocketAddress();
    }

    public Socket socket() {
        return socket;
    }

    public void sendFrame(byte[] payload) throws IOException {
        out.writeInt(payload.length);
        out.write(payload);
        out.flush();
    }

    public void sendRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    public byte[] readFrame() throws IOException {
        int len = in.readInt();
        byte[] b = new byte[len];
        in.readFully(b);
        return b;
    }

    public byte[] readRaw(int n) throws IOException {
        byte[] b = new byte[n];
        in.readFully(b);
        return b;
    }

    /**
     * Sends {@code wire} in pieces of at most {@code piece} bytes from another thread while reading
     * as many bytes back, so that neither side's buffers fill up; returns what came back.
     */
    public byte[] exchange(byte[] wire, int piece) throws Exception {
        Thread writer = Thread.ofVirtual().start(() -> {
            try {
                for (int off = 0; off < wire.length; off += piece) {
                    sendRaw(java.util.Arrays.copyOfRange(wire, off, Math.min(wire.length, off + piece)));
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        try {
            return readRaw(wire.length);
        } finally {
            writer.join();
        }
    }

    /** Sends a frame and returns the reply frame. */
    public byte[] roundTrip(byte[] payload) throws IOException {
        sendFrame(payload);
        return readFrame();
    }

    /**
     * Waits until the server closes the connection (EOF or reset), discarding data.
     *
     * @return true if it closed, false if it was still open after the read timeout
     */
    public boolean awaitClosedByServer() throws IOException {
        byte[] sink = new byte[8192];
        try {
            while (in.read(sink) >= 0) {
                // drain
            }
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (SocketException e) {
            return true; // reset
        }
    }

    /** Whether the server has closed: EOF or reset on the next read. */
    public boolean isClosedByServer() throws IOException {
        try {
            return in.read() < 0;
        } catch (EOFException | SocketException e) {
            return true;
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
