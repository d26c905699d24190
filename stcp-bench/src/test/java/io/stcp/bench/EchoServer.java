package io.stcp.bench;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A blocking echo of length-prefixed frames, a virtual thread per connection. It counts the
 * frames it echoed and those whose length was not {@code expectedBody}; from frame
 * {@code corruptFrom} on (1 = the first) it answers with a length one too large, and from frame
 * {@code silentFrom} on it answers nothing.
 */
final class EchoServer implements AutoCloseable {
    final ServerSocket listener;
    final List<Socket> sockets = new CopyOnWriteArrayList<>();
    final AtomicLong echoed = new AtomicLong();
    final AtomicLong unexpected = new AtomicLong();
    final int expectedBody;
    final long corruptFrom;
    final long silentFrom;
    final Thread acceptor;

    EchoServer(int frameSize, long corruptFrom) throws IOException {
        this(frameSize, corruptFrom, Long.MAX_VALUE);
    }

    EchoServer(int frameSize, long corruptFrom, long silentFrom) throws IOException {
        this(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()), frameSize, corruptFrom, silentFrom);
    }

    /** On {@code listener} (a TLS one, say), which it closes. */
    EchoServer(ServerSocket listener, int frameSize, long corruptFrom, long silentFrom) {
        this.listener = listener;
        this.expectedBody = frameSize - 4;
        this.corruptFrom = corruptFrom;
        this.silentFrom = silentFrom;
        this.acceptor = Thread.ofVirtual().start(this::accept);
    }

    String address() {
        return "127.0.0.1:" + listener.getLocalPort();
    }

    private void accept() {
        try {
            while (true) {
                Socket s = listener.accept();
                sockets.add(s);
                Thread.ofVirtual().start(() -> echo(s));
            }
        } catch (IOException closed) {
            // done
        }
    }

    private void echo(Socket s) {
        try (s) {
            DataInputStream in = new DataInputStream(s.getInputStream());
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            for (long frame = 1; ; frame++) {
                int length = in.readInt();
                if (length != expectedBody) {
                    unexpected.incrementAndGet();
                    return;
                }
                byte[] body = new byte[length];
                in.readFully(body);
                if (frame >= silentFrom) {
                    continue;
                }
                out.writeInt(frame >= corruptFrom ? length + 1 : length);
                out.write(body);
                out.flush();
                echoed.incrementAndGet();
            }
        } catch (IOException closed) {
            // the generator is done
        }
    }

    @Override
    public void close() throws Exception {
        listener.close();
        for (Socket s : sockets) {
            s.close();
        }
        acceptor.join();
    }
}
