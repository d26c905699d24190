package io.stcp;

/**
 * A frame was not completed in time: the first frame within {@link ServerConfig#firstFrameTimeout()}
 * of the accept, or a later frame within {@link ServerConfig#frameTimeout()} of its first byte — a
 * peer that trickles its bytes (slowloris). The connection is closed with
 * {@link CloseReason#FRAME_TIMEOUT}, also when the reader catches this exception: the read loop
 * ends once the call returns (its replies are still written). The reader's input ends with it: a
 * reader that catches it and reads on in the same call finds the end of stream, at once (what was
 * buffered of the frame is dropped), and gets no second timeout.
 */
public final class FrameTimeoutException extends ReadTimeoutException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception. */
    public FrameTimeoutException(String message) {
        super(message);
    }
}
