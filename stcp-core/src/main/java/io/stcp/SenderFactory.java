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

    /** A factory of {@link QueueSender}s with the given capacity in messages (0 = unbounded). */
    static SenderFactory queue(int capacity) {
        QueueSender.Options options = QueueSender.options().capacity(capacity);
        return options::build;
    }
}
