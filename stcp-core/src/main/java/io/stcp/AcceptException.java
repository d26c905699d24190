package io.stcp;

import java.io.IOException;

/** The accept loop gave up after {@link ServerConfig#acceptMaxRetry()} retries; the cause is the last error. */
public final class AcceptException extends IOException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception. */
    public AcceptException(String message, Throwable cause) {
        super(message, cause);
    }
}
