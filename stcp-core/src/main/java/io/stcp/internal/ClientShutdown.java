package io.stcp.internal;

import io.stcp.CloseReason;
import java.time.Duration;

/**
 * A {@link RealTcpClient}'s graceful shutdown ({@link io.stcp.TcpClient#shutdown(Duration)}), on
 * the caller's thread: the offline backlog drained, the connection shut down, the client's end
 * waited for, and what it never wrote reported.
 *
 * <p><b>Steps.</b> The client moves to CLOSED ({@link ClientLifecycle#stop}, which shuts the
 * outbox first: the client's own puts fail from then on, while those to the connection's sender
 * are taken until the call in progress returns). Then:
 * <pre>
 *   a backlog in the outbox → drain: it goes out, until the deadline ({@link Outbox#awaitDelivered}),
 *                             on the connection being handed it or on the next the dialler makes;
 *                             then the drain ends, the outbox closes (what is left discarded, counted)
 *   → the dialler is woken (a back-off or a dial ends; a connection it runs, it waits for)
 *   → the connection, if any, shuts down as a server's does ({@link RealConnectionRunner#finishAndShutdown}):
 *     a reader call in progress runs to its return and its puts are taken, then the connection writes
 *     its queue and closes; a reader that waits between messages is shut down at once
 *   → the close is done ({@link ClientTermination#closeDone}), whatever happened
 *   → wait for the termination until the deadline; at the deadline the connection is ended
 *     ({@link RealConnectionRunner#exit}) and waited for {@link #EXIT_AFTER_FORCE_CLOSE} more
 * </pre>
 * A client closed already (by a close, another shutdown, giving up or a failure) gets no steps:
 * the shutdown waits for that same end ({@link ClientTermination#awaitClose}) and reports on it.
 *
 * <p><b>The report</b> is on every message the client accepted, over its life ({@link #unwritten}):
 * true only if none was discarded — by the senders of its connections, counted as each exits
 * ({@link ClientLifecycle#lost}), or from the offline queue ({@link Outbox#unwritten()}) — and the
 * client terminated within the grace, not having given up or failed, no sender failing to close.
 * Both counts are whole at termination. It is logged ({@code client.shutdown}).
 */
final class ClientShutdown {
    private static final Duration EXIT_AFTER_FORCE_CLOSE = Duration.ofSeconds(5);

    private final ClientLifecycle lifecycle;
    private final Outbox outbox;
    private final ClientTermination termination;
    private final String address;

    /** @param address the client's, for the log line */
    ClientShutdown(ClientLifecycle lifecycle, Outbox outbox, ClientTermination termination, String address) {
        this.lifecycle = lifecycle;
        this.outbox = outbox;
        this.termination = termination;
        this.address = address;
    }

    /** See {@link io.stcp.TcpClient#shutdown(Duration)}; the caller is not one of the client's own threads. */
    boolean shutdown(Duration grace) throws InterruptedException {
        long deadline = Nanos.within(grace);
        ClientLifecycle.Stopped s = lifecycle.stop(null, true);
        if (s == null) {
            // Closed already: by a close, another shutdown, giving up or a failure. The same end,
            // once whoever closed it has ended its connection.
            boolean done = termination.awaitClose(deadline);
            return reported(done, done && !termination.failed() && !termination.closeFailed());
        }
        RealConnectionRunner r = s.runner();
        boolean senderFailed = true;
        try {
            if (s.draining()) {
                // The offline backlog goes out first: on the connection being handed it, or on the
                // next the dialler makes, dialling on as before (its reader reads the replies);
                // what is not handed on by the deadline (or a close) is discarded, counted.
                outbox.awaitDelivered(deadline);
                r = lifecycle.endShutdownDrain();
                outbox.close();
            }
            lifecycle.wake(s); // the dialler stops dialling or sleeping; if it runs a connection, it waits for its exit
            // the call in progress finished and the queue flushed, cut short, or the deadline (-1: the sender failed)
            senderFailed = r != null && r.finishAndShutdown(deadline) < 0;
        } finally {
            termination.closeDone(senderFailed); // a shutdown waiting for it must not wait for ever
        }
        boolean done = termination.await(deadline);
        if (!done) {
            if (r != null) {
                r.exit(CloseReason.SHUTDOWN);
            }
            termination.await(Nanos.within(EXIT_AFTER_FORCE_CLOSE));
        }
        return reported(done, done && !senderFailed);
    }

    /**
     * What a shutdown returns, and logs: true if {@code ok} — the client terminated within the
     * grace, neither having given up or failed nor a sender failing to close — and every message
     * the client accepted was written.
     */
    private boolean reported(boolean terminated, boolean ok) {
        long discarded = unwritten();
        if (Log.hasSlf4j2()) { // under slf4j-api 1.7 only a client that never started gets here
            Log.CLIENT.atDebug().setMessage("client.shutdown").addKeyValue("address", address)
                    .addKeyValue("discarded", discarded).addKeyValue("terminated", terminated).log();
        }
        return ok && discarded == 0;
    }

    /**
     * Messages the client accepted that were never written: discarded by the senders of its
     * connections, lost from the offline queue. Whole once the client has terminated: every
     * connection has exited, and a hand-over of the offline queue that a close cut short has
     * counted what it had not given its sender.
     */
    private long unwritten() {
        return lifecycle.lost() + outbox.unwritten();
    }
}
