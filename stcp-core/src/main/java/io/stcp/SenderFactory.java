package io.stcp;

/**
 * Makes the {@link Sender} for each accepted connection (Go: {@code ConnSenderFactory}), which lets
 * a server choose queue sizes, policies or its own sender type per connection.
 *
 * <p>Called once per accepted connection on that connection's own virtual thread, never on the
 * accept loop, so a slow factory does not stall accepting. A factory that throws or returns
 * {@code null} gets the connection closed and a WARN line; no hooks run for it and the server
 * carries on.
 */
@FunctionalInterface
public interface SenderFactory {

    /** Makes a sender for {@code connection}. */
    Sender create(Connection connection) throws Exception;

    /**
     * A factory of {@link QueueSender}s holding at most {@code capacity} messages each, with the
     * other {@linkplain QueueSender#options() options} at their defaults.
     *
     * @param capacity maximum queued messages per connection; at least 1. For a queue without a
     *     message limit use {@code QueueSender.options().unbounded()::build}.
     * @throws IllegalArgumentException if {@code capacity < 1}
     */
    static SenderFactory queue(int capacity) {
        QueueSender.Options options = QueueSender.options().capacity(capacity);
        return options::build;
    }

    /**
     * The fast path for request/response protocols (one reply per request, RESP, RPC, echo): a
     * factory of {@link QueueSender}s as {@link #queue(int)}, whose reader writes its own reply
     * itself when nothing is queued ({@link QueueSender.Options#writeInline(boolean)}), saving a
     * thread switch per reply. Pipelined requests still get one write per batch.
     *
     * @throws IllegalArgumentException if {@code capacity < 1}
     */
    static SenderFactory requestResponse(int capacity) {
        QueueSender.Options options = QueueSender.options().capacity(capacity).writeInline(true);
        return options::build;
    }
}
