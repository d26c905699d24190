package io.stcp.framing;

import io.stcp.Sender;

/**
 * Receives whole frames from one of the framing readers. Runs on the connection's reader thread;
 * the array is fresh and belongs to the handler. Throwing ends the connection, as from any reader.
 */
@FunctionalInterface
public interface FrameHandler {

    /** Handles one frame; reply through {@code sender}. */
    void onFrame(Sender sender, byte[] frame) throws Exception;
}
