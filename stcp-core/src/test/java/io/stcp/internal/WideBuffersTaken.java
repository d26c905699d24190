package io.stcp.internal;

import java.util.ArrayList;
import java.util.List;

/**
 * The process's wide read buffers, all taken while this is open, as many streaming peers would take
 * them: a reader then reads into large ones, which it gives back (or parks) before it waits.
 */
final class WideBuffersTaken implements AutoCloseable {
    private final List<byte[]> taken = new ArrayList<>();

    WideBuffersTaken() {
        for (byte[] b = ReadBuffers.takeWide(); b != null; b = ReadBuffers.takeWide()) {
            taken.add(b);
        }
    }

    /** Gives them back. */
    @Override
    public void close() {
        taken.forEach(ReadBuffers::give);
        taken.clear();
    }
}
