package io.stcp.examples;

import io.stcp.ConnectionReader;
import io.stcp.QueueSender;
import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import java.io.IOException;

/**
 * The echo server of the examples and benchmarks: frames are a 4-byte big-endian length and a
 * body of at most {@value #MAX_FRAME} bytes; each frame is sent back whole. A larger length
 * closes that connection with a WARN line naming the length.
 */
public final class EchoServer {
    /** The largest body accepted, 1 MiB. */
    public static final int MAX_FRAME = 1 << 20;

    private EchoServer() {}

    /** Reads one frame and queues it back, header included. */
    public static final ConnectionReader READER = (sender, conn) -> {
        int length = conn.readInt();
        if (length < 0 || length > MAX_FRAME) {
            throw new IOException("frame length " + Integer.toUnsignedString(length) + " exceeds the limit of "
                    + MAX_FRAME + " bytes");
        }
        byte[] frame = new byte[4 + length];
        frame[0] = (byte) (length >>> 24);
        frame[1] = (byte) (length >>> 16);
        frame[2] = (byte) (length >>> 8);
        frame[3] = (byte) length;
        conn.readFully(frame, 4, length);
        sender.put(frame);
    };

    /**
     * An echo server (not started) whose senders queue at most {@code queueCapacity} frames and
     * write replies inline from the reader when nothing is queued (see
     * {@link QueueSender.Options#writeInline(boolean)}).
     */
    public static TcpServer create(ServerConfig config, int queueCapacity) {
        return create(config, queueCapacity, true);
    }

    /** As {@link #create(ServerConfig, int)}, choosing whether replies may be written inline. */
    public static TcpServer create(ServerConfig config, int queueCapacity, boolean writeInline) {
        return TcpServer.create(config, READER,
                QueueSender.options().capacity(queueCapacity).writeInline(writeInline)::build);
    }
}
