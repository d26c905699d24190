package io.stcp.testing;

import io.stcp.Connection;
import io.stcp.QueueSender;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Arrays;

/**
 * A peer's raw channel and a {@link Connection#of} of the accepted one, with its sender, for a
 * graceful close whose replies must all reach the peer. The peer's receive window is small and the
 * socket's send buffer large (the kernel doubles it): once the peer has read all of
 * {@value #REPLIES} replies of {@value #REPLY_BYTES} bytes but the last, the last is written, the
 * FIN queued behind it, and most of it is still to send as the close lingers: a reset destroys it.
 */
public record RepliesPair(SocketChannel client, Connection conn, QueueSender sender) implements AutoCloseable {
    public static final int REPLIES = 4;
    public static final int REPLY_BYTES = 1 << 20;
    private static final int PEER_RECEIVE_BUFFER = 64 << 10;
    private static final int SEND_BUFFER = 1 << 20;

    public static RepliesPair open() throws IOException {
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            SocketChannel client = SocketChannel.open();
            client.setOption(StandardSocketOptions.SO_RCVBUF, PEER_RECEIVE_BUFFER);
            client.connect(listener.getLocalAddress());
            SocketChannel accepted = listener.accept();
            accepted.setOption(StandardSocketOptions.SO_SNDBUF, SEND_BUFFER);
            Connection conn = Connection.of(accepted);
            return new RepliesPair(client, conn, QueueSender.options().capacity(100).maxBytes(0).build(conn));
        }
    }

    /** Queues the {@value #REPLIES} replies, reply {@code i} made of bytes {@code i + 1}. */
    public void queueReplies() {
        for (int i = 0; i < REPLIES; i++) {
            byte[] reply = new byte[REPLY_BYTES];
            Arrays.fill(reply, (byte) (i + 1));
            sender.put(reply);
        }
    }

    /** Reads reply {@code i} on the peer's side, and checks it. */
    public static void readReply(DataInputStream in, int i) throws IOException {
        byte[] reply = new byte[REPLY_BYTES];
        in.readFully(reply);
        for (byte b : reply) {
            if (b != (byte) (i + 1)) {
                throw new AssertionError("reply " + i + " holds " + b);
            }
        }
    }

    /** The peer sends {@code bytes}. */
    public void peerSends(byte[] bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            client.write(b);
        }
    }

    @Override
    public void close() throws IOException {
        conn.close();
        client.close();
    }
}
