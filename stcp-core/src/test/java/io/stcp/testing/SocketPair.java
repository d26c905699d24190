package io.stcp.testing;

import io.stcp.Connection;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletableFuture;
import org.awaitility.Awaitility;

/** A connected loopback pair: {@link #client} is a raw channel, {@link #server} a stcp Connection. */
public final class SocketPair implements AutoCloseable {
    public final SocketChannel client;
    public final Connection server;

    private SocketPair(SocketChannel client, Connection server) {
        this.client = client;
        this.server = server;
    }

    public static SocketPair open() throws IOException {
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            SocketChannel client = SocketChannel.open(listener.getLocalAddress());
            return new SocketPair(client, Connection.of(listener.accept()));
        }
    }

    /** Writes {@code bytes} from the client side. */
    public void clientWrite(byte... bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            client.write(b);
        }
    }

    /** Writes the low byte of each value from the client side. */
    public void clientWriteBytes(int... values) throws IOException {
        byte[] b = new byte[values.length];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) values[i];
        }
        clientWrite(b);
    }

    /**
     * Reads an int on the server side, on a thread of its own, and returns once that thread waits
     * for input: bytes written after this are read by a reader that waited for them.
     */
    public CompletableFuture<Integer> serverReadIntOnceWaiting() {
        return readIntOnceWaiting(server);
    }

    /** As {@link #serverReadIntOnceWaiting()}, from any connection. */
    public static CompletableFuture<Integer> readIntOnceWaiting(Connection connection) {
        return readOnceWaiting(connection::readInt);
    }

    /** A read of any kind. */
    public interface Read<T> {
        T read() throws Exception;
    }

    /**
     * Runs {@code read} on a thread of its own, and returns once that thread waits (with or
     * without a deadline, as a frame begun has one): for input, as nothing else waits in a read.
     */
    public static <T> CompletableFuture<T> readOnceWaiting(Read<T> read) {
        CompletableFuture<T> result = new CompletableFuture<>();
        Thread reader = Thread.ofVirtual().start(() -> {
            try {
                result.complete(read.read());
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        Awaitility.await().until(() -> waits(reader));
        return result;
    }

    /** Whether {@code thread} waits, with or without a deadline. */
    public static boolean waits(Thread thread) {
        Thread.State s = thread.getState();
        return s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING;
    }

    @Override
    public void close() throws IOException {
        server.close();
        client.close();
    }
}
