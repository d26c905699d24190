package io.stcp;

/**
 * Runs when a connection starts or exits (Go: {@code ConnStartEvent}, {@code ConnExitEvent}).
 *
 * <p>Start hooks run on the connection's reader thread before the reader is first called, never
 * on the accept loop. Exit hooks run exactly once, after the start hooks and after both the read
 * and the send loop have ended. A hook that throws is logged at WARN with the connection's fields;
 * the other hooks still run and the server carries on.
 */
@FunctionalInterface
public interface ConnectionHook {

    /** Handles the event for the connection behind {@code sender}. */
    void onEvent(Sender sender) throws Exception;

    /**
     * This hook, then {@code next}. {@code next} runs even if this one throws; this hook's exception
     * is then rethrown after it, with whatever {@code next} threw added as
     * {@linkplain Throwable#addSuppressed suppressed}. If only {@code next} throws, its exception is
     * thrown.
     */
    default ConnectionHook andThen(ConnectionHook next) {
        java.util.Objects.requireNonNull(next, "next");
        return sender -> {
            try {
                onEvent(sender);
            } catch (Throwable first) {
                try {
                    next.onEvent(sender);
                } catch (Throwable second) {
                    first.addSuppressed(second);
                }
                throw first;
            }
            next.onEvent(sender);
        };
    }
}
