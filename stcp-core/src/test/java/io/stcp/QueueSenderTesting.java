package io.stcp;

/** Reaches {@link QueueSender}'s test seam from tests in other packages. */
public final class QueueSenderTesting {
    private QueueSenderTesting() {}

    /** What is put into {@code s} stays queued, not written, until {@link #resumeWrites}. */
    public static QueueSender holdWrites(QueueSender s) {
        s.holdWrites();
        return s;
    }

    /** Ends {@link #holdWrites}: what is queued is written. */
    public static void resumeWrites(QueueSender s) {
        s.resumeWrites();
    }
}
