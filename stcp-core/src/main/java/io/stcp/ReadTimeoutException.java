package io.stcp;

import java.net.SocketTimeoutException;

/** A read waited longer than the read timeout or past the read deadline. The connection stays usable. */
public final class ReadTimeoutException extends SocketTimeoutException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception. */
    public ReadTimeoutException(String message) {
        super(message);
    }
}
