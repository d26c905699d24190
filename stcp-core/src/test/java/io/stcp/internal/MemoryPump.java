package io.stcp.internal;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/** Joins two memory transports into a pair of sockets, one direction per thread. */
final class MemoryPump {

    private MemoryPump() {}

    /** Moves what {@code from} writes into {@code to}'s input, until interrupted or closed. */
    static Thread pump(MemoryTransport from, MemoryTransport to) {
        return Thread.ofVirtual().start(() -> {
            try {
                while (from.isOpen()) {
                    byte[] first = from.takeOutput(1, TimeUnit.MILLISECONDS.toNanos(20));
                    if (first.length > 0) {
                        byte[] rest = from.takeOutput();
                        to.feed(ByteBuffer.allocate(first.length + rest.length).put(first).put(rest).array());
                    }
                }
            } catch (InterruptedException | IllegalStateException e) {
                // the test is over
            }
        });
    }
}
