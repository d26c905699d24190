package io.stcp;

import java.io.IOException;

/**
 * The connection reader kept returning without consuming any input, or kept reading past the end
 * of the input in one call — the end of stream, or a failed read: a close, a reset (see
 * {@link ConnectionReader}) — so the connection was failed instead of letting it spin a core. A
 * reader that catches this too and reads on gets a {@link java.io.UncheckedIOException} of it.
 */
public final class ReaderStalledException extends IOException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception. */
    public ReaderStalledException(String message) {
        super(message);
    }
}
