package io.stcp.testing;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * A JDK {@link SSLSocket} client speaking 4-byte length-prefixed frames, checking the server's
 * certificate for {@code localhost} (HTTPS rules) and sending SNI {@code localhost}. Reads time
 * out after 10 s, so a broken server fails the test instead of hanging it.
 */
public final class TlsClient implements AutoCloseable {
    private final SSLSocket socket;
    private final DataInputStream in;
    private final DataOutputStream out;

    private TlsClient(SSLSocket socket) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(socket.getInputStream());
        this.out = new DataOutputStream(socket.getOutputStream());
    }

    /** Connects and completes the handshake with {@code protocols} (all of the context's when none). */
    public static TlsClient connect(InetSocketAddress address, SSLContext context, String... protocols)
            throws IOException {
        return connect(address, context, new byte[0], protocols);
    }

    /**
     * Connects, sends {@code preamble} in plain text (a PROXY protocol header, say), then completes
     * the handshake with {@code protocols} (all of the context's when none).
     */
    public static TlsClient connect(InetSocketAddress address, SSLContext context, byte[] preamble, String... protocols)
            throws IOException {
        Socket plain = new Socket();
        try {
            plain.connect(new InetSocketAddress("127.0.0.1", address.getPort()), TestClient.READ_TIMEOUT_MILLIS);
            plain.setSoTimeout(TestClient.READ_TIMEOUT_MILLIS);
            plain.setTcpNoDelay(true);
            if (preamble.length > 0) {
                plain.getOutputStream().write(preamble);
            }
            SSLSocket s = (SSLSocket) context.getSocketFactory().createSocket(plain, "localhost", address.getPort(), true);
            SSLParameters p = s.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");
            p.setServerNames(java.util.List.of(new SNIHostName("localhost")));
            if (protocols.length > 0) {
                p.setProtocols(protocols);
            }
            s.setSSLParameters(p);
            try {
                s.startHandshake();
                return new TlsClient(s);
            } catch (IOException e) {
                s.close();
                throw e;
            }
        } catch (IOException e) {
            plain.close();
            throw e;
        }
    }

    public SSLSocket socket() {
        return socket;
    }

    public void sendFrame(byte[] payload) throws IOException {
        out.writeInt(payload.length);
        out.write(payload);
        out.flush();
    }

    public byte[] readFrame() throws IOException {
        byte[] b = new byte[in.readInt()];
        in.readFully(b);
        return b;
    }

    public byte[] roundTrip(byte[] payload) throws IOException {
        sendFrame(payload);
        return readFrame();
    }

    /** Whether the server has ended the stream: EOF (close_notify) or a reset on the next read. */
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
