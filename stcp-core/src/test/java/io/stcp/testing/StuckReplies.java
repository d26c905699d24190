package io.stcp.testing;

import io.stcp.QueueSender;
import io.stcp.TcpServer;
import java.io.IOException;
import java.util.concurrent.CountDownLatch;

/** A server that answers a connection's first 4 bytes with 64 MiB of replies: a client that never reads leaves most queued. */
public final class StuckReplies {
    private StuckReplies() {}

    /** Starts one on a free loopback port; {@code queued} counts down once a connection's replies are all put. */
    public static TcpServer start(CountDownLatch queued) throws IOException {
        return TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            conn.readInt();
            for (int i = 0; i < 64; i++) {
                sender.put(new byte[1 << 20]); // far more than the socket buffers
            }
            queued.countDown();
        }, QueueSender.options().capacity(1000).maxBytes(0)::build).start();
    }
}
