package io.stcp.examples;

import io.stcp.ConnectionReader;
import io.stcp.QueueSender;
import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import io.stcp.framing.FrameTooLongException;

/**
 * The echo server of the examples and benchmarks: frames are a 4-byte big-endian length and a
 * body of at most {@value #MAX_FRAME} bytes; each frame is sent back whole. A larger length
 * closes that connection ({@code conn.exit} at WARN, reason {@code PROTOCOL_ERROR}, naming the
 * length; rate-limited when many peers do it). A body above 4 KiB is {@linkplain io.stcp.Sender#relay
 * relayed}: held off the heap when it has all arrived, else read with {@code readBytes}, whose array
 * grows as the bytes arrive. Memory follows the bytes received: a peer that announces 1 MiB and
 * sends nothing costs nothing.
 */
public final class EchoServer {
    /** The largest body accepted, 1 MiB. */
    public static final int MAX_FRAME = 1 << 20;
    /** Bodies up to this size are read into an array of the whole frame at once, which is the reply; larger ones are relayed. */
    private static final int SMALL = 4096;

    private EchoServer() {}

    /** Reads one frame and queues it back, header included. */
    public static final ConnectionReader READER = (sender, conn) -> {
        int length = conn.readInt();
        if (length < 0 || length > MAX_FRAME) {
            throw new FrameTooLongException("frame length " + Integer.toUnsignedString(length) + " exceeds the limit of "
                    + MAX_FRAME + " bytes");
        }
        if (length <= SMALL) {
            byte[] frame = new byte[4 + length];
            conn.readFully(frame, 4, length);
            header(frame, length);
            sender.put(frame);
        } else {
            // Forwarded without an array when it has arrived already, else read into one that
            // grows as the body arrives, after the header: either way written back with one call.
            sender.relay(conn, header(new byte[4], length), length);
        }
    };

    private static byte[] header(byte[] b, int length) {
        b[0] = (byte) (length >>> 24);
        b[1] = (byte) (length >>> 16);
        b[2] = (byte) (length >>> 8);
        b[3] = (byte) length;
        return b;
    }

    /**
     * An echo server (not started) whose senders queue at most {@code queueCapacity} frames, write
     * replies inline from the reader when nothing is queued (see
     * {@link QueueSender.Options#writeInline(boolean)}), and leave the replies to pipelined frames
     * to the reader, one write per batch ({@link QueueSender.Options#batchReplies(boolean)}: the
     * reader blocks on nothing but its connection).
     */
    public static TcpServer create(ServerConfig config, int queueCapacity) {
        return create(config, queueCapacity, true, true);
    }

    /** As {@link #create(ServerConfig, int)}, choosing whether replies may be written inline and batched by the reader. */
    public static TcpServer create(ServerConfig config, int queueCapacity, boolean writeInline, boolean batchReplies) {
        return TcpServer.create(config, READER, QueueSender.options().capacity(queueCapacity).writeInline(writeInline)
                .batchReplies(batchReplies)::build);
    }
}
