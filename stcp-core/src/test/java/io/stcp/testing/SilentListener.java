package io.stcp.testing;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;

/**
 * A loopback listener that takes no connection: its accept queue is full, so the kernel drops
 * further SYNs and a connect to it waits until it times out (an address that does not answer, as
 * behind a firewall that drops packets). Making one takes a connect that times out: 200 ms.
 */
public final class SilentListener implements AutoCloseable {
    private final ServerSocket listener = new ServerSocket();
    private final List<Socket> filling = new ArrayList<>();

    /** Listens on {@code at} (port 0: a free port) and fills its accept queue. */
    public SilentListener(InetSocketAddress at) throws Exception {
        listener.bind(at, 1);
        InetSocketAddress bound = address();
        boolean full = false;
        for (int i = 0; i < 16 && !full; i++) { // the accept queue takes backlog + 1; the next connect hangs
            Socket s = new Socket();
            try {
                s.connect(bound, 200);
                filling.add(s);
            } catch (SocketTimeoutException e) {
                s.close();
                full = true;
            }
        }
        if (!full) {
            close();
            throw new AssertionError("the listener on " + bound + " still accepts connections after 16");
        }
    }

    /** Where it listens. */
    public InetSocketAddress address() {
        return (InetSocketAddress) listener.getLocalSocketAddress();
    }

    @Override
    public void close() throws Exception {
        for (Socket s : filling) {
            s.close();
        }
        listener.close();
    }
}
