package io.stcp.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;

/**
 * How a suspended read loop goes on: once per suspension, whoever comes first — the transport's
 * read callback ({@link #run()}), the read deadline ({@link #resume(int)}) or the read timeout
 * ({@link #timeOut(int)}) — starts a thread that continues the loop. One per connection, instead of one per suspension: a loop that suspends
 * between every two messages would otherwise leave one behind per message.
 *
 * <p><b>States</b> ({@code state}, one word):
 * <pre>
 *   0 running ──suspend()──▶ −g registering ──arm(g)──▶ g suspended ──run() / resume(g)──▶ 0 (a new thread goes on)
 *                               ├──run() / resume(g)──▶ 0: arm(g) fails, the reader thread goes on itself
 *                               └──cancel()──────────▶ 0: the transport said read instead
 *   g suspended ──run() / resume(g) / retry(), the thread cannot start──▶ g suspended (retried: see below)
 *   g suspended ──timeOut(g)──▶ TIMED_OUT (a new thread goes on) ──takeTimedOut()──▶ 0
 * </pre>
 * {@code g} is the suspension's generation (&gt; 0). While the reader thread registers the
 * suspension (the deadline, the transport's callback) no other thread may take the loop: a
 * resumer that comes then only ends the suspension, and the reader goes on on its own thread once
 * it is done, so two threads never run the loop, nor touch the transport's registration, at once.
 * The deadline names the generation it was set for, so one left over from an earlier suspension
 * (which the transport ended first) never ends a later one. The transport's callback is registered
 * for one suspension and taken when it runs, so it carries no generation; one that was taken just
 * as its suspension ended by the deadline, and runs during the next, ends that one instead: the
 * loop takes it as a wake-up with nothing to read, and reads or suspends again.
 *
 * <p><b>The read timeout</b> ends an armed suspension with {@link #timeOut(int)} ({@link ReadIdleWatch}):
 * its state says so to the thread that goes on ({@link #takeTimedOut()}), with no field of its own.
 * Every resumer treats it as running, which it is.
 *
 * <p><b>A thread that cannot start</b> (out of memory, in practice) leaves the suspension armed, as
 * if it had not ended, and a retry the sweeper runs {@value #RETRY_MILLIS} ms later ends it again
 * (so does the deadline, if one still watches it, and the read timeout's watch, a timeout later;
 * the transport's callback may have been taken). The
 * resumer — the poll loop, whose other events must still be signalled, the sweeper, a thread
 * closing the connection — never sees the failure, and the connection is not left without a
 * thread and without a way to get one (unless even the retry cannot be allocated: then only a
 * deadline or the read timeout can end it).
 */
class Resumption implements Runnable {
    static final long RETRY_MILLIS = 10;
    private static final int ANY = 0; // no generation is 0
    /** Running, on a thread the read timeout started; no generation is negative and this small. */
    private static final int TIMED_OUT = Integer.MIN_VALUE;
    private static final VarHandle STATE = Fields.handle(MethodHandles.lookup(), "state", int.class);

    private final RealConnectionRunner runner;
    private volatile int state;  // 0 or TIMED_OUT running, -g registering suspension g, g suspended
    private int generation;      // the last one handed out; reader threads only, one at a time

    Resumption(RealConnectionRunner runner) {
        this.runner = runner;
    }

    /** The reader thread begins a suspension (registering): its generation. */
    int suspend() {
        int g = generation == Integer.MAX_VALUE ? 1 : generation + 1;
        generation = g;
        state = -g;
        return g;
    }

    /**
     * The reader thread has registered suspension {@code g}: it is suspended now, and the thread
     * may end — unless a resumer came meanwhile (false): then the thread goes on with the loop.
     */
    boolean arm(int g) {
        return STATE.compareAndSet(this, -g, g);
    }

    /** The reader thread gives up suspension it is registering (the transport may have input already) and goes on. */
    void cancel() {
        state = 0;
    }

    /** The transport's callback: ends the suspension in progress, if any. */
    @Override
    public void run() {
        end(ANY);
    }

    /** The read deadline of suspension {@code g} passed: ends it, if it is still in progress. */
    void resume(int g) {
        end(g);
    }

    /** The armed suspension, 0 if none: the loop runs, or is registering one. Any thread. */
    int suspended() {
        int s = state;
        return Math.max(s, 0);
    }

    /**
     * Suspension {@code g} has waited out the read timeout: ends it if it is still armed, and the
     * thread that goes on finds {@link #takeTimedOut()} true.
     */
    void timeOut(int g) {
        if (STATE.compareAndSet(this, g, TIMED_OUT)) {
            try {
                startThread();
            } catch (Throwable t) {
                state = g; // armed again: nobody else changes TIMED_OUT; the retry ends it as input would
                retryLater(t);
            }
        }
    }

    /** Whether the read timeout ended the last suspension, and the loop has not asked since. Reader thread. */
    boolean takeTimedOut() {
        if (state != TIMED_OUT) {
            return false;
        }
        state = 0;
        return true;
    }

    /**
     * Ends suspension {@code g} ({@link #ANY}: whichever is in progress); a new thread goes on only
     * with one that was armed. The reader may arm it between the read of the state and the swap
     * (−g to g): the swap then fails and is tried again with the armed state, or the loop would stay
     * suspended with its callback taken and nothing left to end it. Any other change ended the
     * suspension; if the reader began the next one since, only a callback ({@link #ANY}) ends that,
     * as one left from an earlier suspension does (above).
     */
    private void end(int g) {
        while (true) {
            int s = state;
            if (s == 0 || s == TIMED_OUT || g != ANY && s != g && s != -g) {
                return;
            }
            if (STATE.compareAndSet(this, s, 0)) {
                if (s > 0) {
                    try {
                        startThread();
                    } catch (Throwable t) {
                        state = s; // armed again: no thread runs the loop, so nothing else changed the state
                        retryLater(t);
                    }
                }
                return;
            }
        }
    }

    /** A later attempt to end the suspension, after a thread could not start (the sweeper's). */
    void retry() {
        int s = state;
        if (s > 0) {
            end(s);
        }
    }

    /** Whether the loop this resumes has ended for good: its connection's end is over. Any thread. */
    boolean loopEnded() {
        return runner.isExited();
    }

    /** The connection whose loop this resumes. */
    RealConnection connection() {
        return runner.realConnection();
    }

    /** Starts the thread that goes on with the loop; throws if it cannot. */
    void startThread() {
        Threads.start(runner.threadName(), runner::resume, runner); // the runner: see RealConnectionRunner.uncaughtException
    }

    /** Has the sweeper {@link #retry} soon, after a thread could not start. */
    void retryLater(Throwable failure) {
        RealConnection c = connection();
        try {
            c.context().sweeper().add(Sweeper.every(TimeUnit.MILLISECONDS.toNanos(RETRY_MILLIS), now -> {
                retry();
                return false; // once: a retry that fails again adds a retry of its own
            }));
        } catch (Throwable t) {
            // Out of memory still: only the deadline or the read timeout, if one watches it, tries again.
        }
        try {
            Log.connWarn("conn.resume.failed", c).setCause(failure).log();
        } catch (Throwable ignored) {
            // retried all the same
        }
    }
}
