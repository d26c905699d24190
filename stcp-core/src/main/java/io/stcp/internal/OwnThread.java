package io.stcp.internal;

/**
 * Refuses a wait on a thread that the wait is for. A server's {@code shutdown}, {@code drain},
 * {@code runUntilSignal} and {@code awaitTermination}, and a client's {@code shutdown},
 * {@code runUntilSignal} and {@code awaitTermination}, wait for the connections to exit; called
 * from one of them — its reader, or a hook that runs on the reader's thread — the call waits for
 * the very call it is part of, which cannot return first: it would wait out the whole grace (and,
 * for a shutdown, 5 s more after closing by force) and report failure. As a blocking wait on an
 * event loop's own thread fails at once elsewhere, these throw {@link IllegalStateException} at
 * once, before they change anything. The check asks the live connections
 * ({@link RealConnectionRunner#isOwnThread()}) when such a call is made, so nothing is paid per
 * message; a resumed read loop runs on a new thread, which the connection then knows as its own.
 */
final class OwnThread {
    private OwnThread() {
    }

    /**
     * Throws if {@code own}: {@code call} (as "shutdown(grace)") was made on a thread of
     * {@code owner}'s ("server", "client") own connection.
     */
    static void refuseWait(boolean own, String owner, String call) {
        if (own) {
            throw new IllegalStateException(call + " called on a thread of this " + owner
                    + "'s own connection (its reader or a hook): it waits for the connections to exit,"
                    + " this one included, which cannot exit before the call returns. Call it from"
                    + " another thread, e.g. Thread.ofVirtual().start(() -> " + owner + "." + call
                    + "), and return; or close(), which does not wait");
        }
    }
}
