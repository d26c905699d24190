package io.stcp;

/**
 * What a {@link QueueSender} does when a put would exceed its message or byte limit.
 *
 * <p>Whatever the policy, a single message larger than the byte limit, or a keyed batch with more
 * distinct keys than the message limit (or more bytes than the byte limit, counting each key's
 * last value), is rejected with {@link QueueFullException}: no amount of waiting or dropping would
 * make room for it. A keyed batch goes in whole or not at all, and never past either limit.
 */
public enum OverflowPolicy {
    /** Throw {@link QueueFullException} at once (the default, as in Go). */
    FAIL,
    /**
     * Block the producer until there is room, at most the sender's block timeout, then throw
     * {@link QueueFullException}. Never use from the connection's own reader if the reader is what
     * frees room (it is not: the send thread frees room, so this is safe for request/response).
     */
    BLOCK,
    /** Discard the oldest queued messages until the new one fits; each is counted as dropped. */
    DROP_OLDEST,
    /**
     * Treat the peer as a slow consumer: discard the queue, close the connection (counted and
     * logged at WARN), and throw {@link QueueFullException}.
     */
    CLOSE_CONNECTION
}
