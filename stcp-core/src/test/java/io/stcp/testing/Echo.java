package io.stcp.testing;

import io.stcp.ConnectionReader;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;

/** Test servers speaking 4-byte length-prefixed frames. */
public final class Echo {
    private Echo() {}

    /** Reads one frame and queues it back. */
    public static final ConnectionReader READER = (sender, conn) -> {
        int len = conn.readInt();
        sender.put(frame(conn.readBytes(len)));
    };

    public static byte[] frame(byte[] payload) {
        return ByteBuffer.allocate(4 + payload.length).putInt(payload.length).put(payload).array();
    }

    public static ServerConfig.Builder loopback() {
        return ServerConfig.builder().address("127.0.0.1:0");
    }

    /** An echo server on a free loopback port, started. */
    public static TcpServer start() throws IOException {
        return TcpServer.create(loopback().build(), READER, SenderFactory.queue(1024)).start();
    }

    /** Closes and waits for termination (exit hooks done). */
    public static void stop(TcpServer server) throws Exception {
        server.close();
        if (!server.awaitTermination(Duration.ofSeconds(10))) {
            throw new AssertionError("server did not terminate within 10s; " + server.stats()
                    + "; threads (virtual ones included): " + ThreadDump.write());
        }
    }
}
