package io.stcp;

import java.net.SocketTimeoutException;

/**
 * A read waited longer than the read timeout or past the read deadline. The connection stays usable.
 * {@link FrameTimeoutException}, a subtype, ends the connection: a frame was not completed in time.
 */
public class ReadTimeoutException extends SocketTimeoutException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception. */
    public ReadTimeoutException(String message) {
        super(message);
    }
}
