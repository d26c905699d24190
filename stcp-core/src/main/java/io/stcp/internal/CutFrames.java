package io.stcp.internal;

import io.stcp.Connection;
import io.stcp.FrameTimeoutException;
import io.stcp.ReadTimeoutException;
import java.io.IOException;

/**
 * A read timeout inside a frame of a framing reader ({@link io.stcp.framing}), or inside a line of
 * {@link Connection#readLine}. Those keep nothing between calls: the bytes of the frame they took
 * before the timeout (a header, the start of a line) are gone with the call, and a reader that
 * catches the timeout and reads on (the README's pinging reader) would read the rest of that frame
 * as a frame of its own and hand its handler a frame the peer never sent. So such a timeout ends
 * the connection even if it is caught, as a frame timeout does, with the reason it had
 * ({@code READ_TIMEOUT}) and a message that says how far into the frame it came. One before the
 * frame's first byte is left as it is: the frame is unread, and the connection usable.
 *
 * <p>A reader that catches the timeout and reads on in the same call (one that serves a whole
 * conversation in one call) must not get the rest of the frame either: the input is over for it, as
 * after a frame timeout ({@code ConnectionInput.endsInput}): its reads find the end of stream, and
 * the connection's end is recorded as {@code READ_TIMEOUT} then, so that the
 * {@link java.io.EOFException} it may throw for that end does not say {@code PEER_CLOSED}.
 */
public final class CutFrames {
    private CutFrames() {}

    /** The read of one frame, bounded by {@code limit} (each reader says how). */
    @FunctionalInterface
    public interface FrameRead {
        /** The frame, or null at the end of stream before its first byte (where the read says so). */
        byte[] read(Connection connection, int limit) throws IOException;
    }

    /**
     * Reads one frame from {@code connection} with {@code read}: for the framing readers and
     * {@code readLine}. A read timeout after the frame's first byte ends the connection; one before
     * it is thrown as it is. A frame read whole ends the frame timeout's deadline, also for a
     * reader that reads many in one call. {@code read} is made once, not per frame (a method
     * reference to a static method, or a reader's own, kept in a field), so a frame costs no
     * allocation for it.
     */
    public static byte[] read(Connection connection, FrameRead read, int limit) throws IOException {
        long start = connection.bytesRead();
        byte[] frame;
        try {
            frame = read.read(connection, limit);
        } catch (ReadTimeoutException e) {
            throw timedOut(connection, start, e);
        }
        if (connection instanceof RealConnection rc) {
            rc.input().frameEnded();
        }
        return frame;
    }

    /** What a frame's read throws for {@code e}, raised after {@code connection} had read {@code frameStart} bytes. */
    private static ReadTimeoutException timedOut(Connection connection, long frameStart, ReadTimeoutException e) {
        long taken = connection.bytesRead() - frameStart;
        if (taken == 0 || e instanceof FrameTimeoutException) {
            return e; // the frame is unread; a frame timeout ends the connection already
        }
        ReadTimeoutException cut = new ReadTimeoutException(e.getMessage() + ", " + taken
                + " bytes into a frame, which cannot be resumed: the connection ends");
        cut.initCause(e);
        // The input ends, and the connection with it whatever the reader throws next (the end of stream).
        return connection instanceof RealConnection rc ? rc.input().cutFrame(cut) : cut;
    }
}
