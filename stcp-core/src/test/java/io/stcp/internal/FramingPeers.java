package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Loopback peers that send length-prefixed frames (a 4-byte length, then the body; frame i's body
 * all bytes i), pipelined from a thread of their own each, through a small receive buffer, and read
 * only when the test does: peers whose replies fill the server's queues and budgets.
 */
final class FramingPeers implements AutoCloseable {
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final List<Thread> writers = new CopyOnWriteArrayList<>();

    /** A peer of the server at {@code port} that sends {@code frames} frames of {@code length} bytes of body. */
    Socket start(int port, int length, int frames) throws IOException {
        Socket s = new Socket();
        s.setReceiveBufferSize(4096);
        try {
            s.connect(new InetSocketAddress("127.0.0.1", port));
        } catch (IOException e) {
            s.close();
            throw e;
        }
        return pipeline(s, length, frames);
    }

    /** Sends {@code frames} frames of {@code length} bytes of body through {@code s}, connected already (a TLS peer's, say); closed with the others. */
    Socket pipeline(Socket s, int length, int frames) {
        sockets.add(s);
        Thread t = Thread.ofPlatform().name("peer-writer-" + s.getLocalPort()).start(() -> {
            try {
                DataOutputStream out = new DataOutputStream(s.getOutputStream());
                byte[] body = new byte[length];
                for (int i = 0; i < frames; i++) {
                    Arrays.fill(body, (byte) i);
                    out.writeInt(length);
                    out.write(body);
                }
            } catch (IOException closed) {
                // the test closed the socket, or the server the connection
            }
        });
        writers.add(t);
        return s;
    }

    /** Closes the peers' sockets; their writers end. */
    @Override
    public void close() throws Exception {
        for (Socket s : sockets) {
            s.close();
        }
        for (Thread t : writers) {
            t.join(10_000);
            assertThat(t.isAlive()).as("peer writer %s ended", t.getName()).isFalse();
        }
    }
}
