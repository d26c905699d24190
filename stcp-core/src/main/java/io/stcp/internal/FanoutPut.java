package io.stcp.internal;

import io.stcp.QueueSender;
import io.stcp.Sender;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One fan-out put into one recipient's {@link Sender}: a plain or keyed put that can be told not
 * to wait, so a fan-out serves the recipients with room first and comes back to those that would
 * wait, or told to register where it would wait, so that the fan-out waits for all of them at
 * once (see {@link Delivery}, {@link RoomWatch}).
 *
 * <p>{@link QueueSender} supports it through {@link SendQueue#offer}, reached through the accessor
 * it installs when its class initializes (the JDK's "shared secrets" pattern: the API package
 * keeps the method private, this package calls it). Any other {@link Sender} gets its ordinary
 * put, which may wait as long as that sender's put does.
 */
public final class FanoutPut {

    /** What {@link QueueSender} installs. */
    @FunctionalInterface
    public interface Access {
        /** See {@link FanoutPut#offer}; called only with {@link QueueSender}s. */
        boolean offer(Sender sender, @Nullable Object key, byte[] bytes, long sinceNanos, RoomWatch.@Nullable Entry watch);
    }

    private static volatile @Nullable Access queueSenders;

    private FanoutPut() {}

    /** Installed once, by {@link QueueSender}'s static initializer; later calls are ignored. */
    public static void install(Access access) {
        Objects.requireNonNull(access, "access");
        if (queueSenders == null) {
            queueSenders = access;
        }
    }

    /**
     * Puts {@code bytes} (under {@code key}: an {@link Integer} or a {@link String}, or null for a
     * plain put) into {@code sender}.
     *
     * @param sinceNanos when the fan-out started: the waits of a {@link QueueSender} (BLOCK's
     *     block timeout, a reader's patience) are measured from it
     * @param watch null: where a {@link QueueSender} would wait for room, return false instead;
     *     else the recipient's entry in the fan-out's {@link RoomWatch}: where it would wait, the
     *     entry is registered with its queue, to be told of room, and false returned
     * @return true if queued, false if it would have waited (nothing queued)
     * @throws io.stcp.SendException when full or closed, as the sender's put
     */
    static boolean offer(Sender sender, @Nullable Object key, byte[] bytes, long sinceNanos, RoomWatch.@Nullable Entry watch) {
        if (sender instanceof QueueSender) {
            Access a = queueSenders; // installed: an instance exists, so its class is initialized
            if (a != null) {
                return a.offer(sender, key, bytes, sinceNanos, watch);
            }
        }
        if (key == null) {
            sender.put(bytes);
        } else if (key instanceof Integer i) {
            sender.put(i.intValue(), bytes);
        } else {
            sender.put((String) key, bytes);
        }
        return true;
    }
}
