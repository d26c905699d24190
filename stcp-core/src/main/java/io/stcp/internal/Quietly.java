package io.stcp.internal;

import java.io.IOException;

/**
 * Closing a socket, a listener or a transport on a cleanup path, where the steps that come after
 * the close (a registration dropped, a slot given back, the exit hooks, the other connections of a
 * stopping server) must run whatever the close threw.
 *
 * <p><b>Failure.</b> An {@link IOException} is the socket's own and is dropped: the descriptor is
 * released all the same. Anything else (a {@link RuntimeException}: a bug; an {@link Error}: out of
 * memory, a class missing) is dropped too, but logged: {@code close.failed} (ERROR, logger
 * {@code io.stcp.server}, {@code closing}, {@code suppressed}, the exception), one line a second at
 * most. Nothing escapes, the log line's own failure included.
 *
 * <p><b>Thread safety.</b> Any thread.
 */
final class Quietly {
    private static final RateLimiter LOG_LIMIT = new RateLimiter(1_000_000_000L);

    private Quietly() {}

    /**
     * Closes {@code c}; never throws.
     *
     * @param what what is closed, for the log line: {@code socket}, {@code listener}, {@code transport}
     */
    static void close(AutoCloseable c, String what) {
        try {
            c.close();
        } catch (IOException ignored) {
            // the socket's own failure: closed all the same
        } catch (Throwable t) {
            failed(what, t);
        }
    }

    /**
     * Logs a close that threw something other than an {@link IOException}, as {@link #close} does;
     * for a close called in place, where passing it as an {@link AutoCloseable} would allocate
     * (a method reference) before it, which a full heap would refuse. Never throws.
     */
    static void failed(String what, Throwable t) {
        try {
            long held = LOG_LIMIT.tryAcquire();
            if (held >= 0) {
                Log.suppressed(Log.SERVER.atError().setMessage("close.failed").addKeyValue("closing", what), held)
                        .setCause(t).log();
            }
        } catch (Throwable logFailed) {
            // out of memory even for the line: what follows the close runs all the same
        }
    }
}
