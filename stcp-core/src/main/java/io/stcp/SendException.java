package io.stcp;

/**
 * A message could not be queued. Unchecked and cheap: no stack trace is captured, because
 * rejections are expected under load and must not cost more than the message.
 */
public class SendException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Creates an exception with {@code message} and no stack trace. */
    public SendException(String message) {
        super(message, null, false, false);
    }
}
