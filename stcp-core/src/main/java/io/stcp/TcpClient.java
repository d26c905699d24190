package io.stcp;

import io.stcp.internal.RealTcpClient;
import java.net.ConnectException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * An outgoing connection that keeps itself up: dials {@link ClientConfig#address()} (TCP or a
 * {@code unix:} socket, over TLS when {@link ClientConfig#tls()} is set), runs the
 * same {@link ConnectionReader}, {@link SenderFactory} and hooks as a {@link TcpServer} does on
 * each accepted connection, and when the connection ends or cannot be made, dials again after a
 * back-off ({@link ClientConfig}), until {@link #close()} or {@link ClientConfig#maxAttempts()}
 * failures in a row.
 *
 * <pre>{@code
 * TcpClient client = TcpClient.create(ClientConfig.builder("chat.example.com:9000").build(),
 *                 reader, SenderFactory.queue(1024))
 *         .onConnect(sender -> sender.put(login))          // first thing on every connection
 *         .onDisconnect((sender, reason) -> log(reason))
 *         .start();
 * client.put(message);                                    // on whatever connection is up
 * }</pre>
 *
 * <p><b>Connections.</b> One at a time. Each runs exactly as a server's does — a reader thread and
 * a send thread, both virtual — and its hooks keep the server's guarantees: {@link #onConnect}
 * runs on the connection's reader thread before the reader is first called;
 * {@link #onDisconnect} runs once for every connection whose connect hook ran, after both its loops
 * have ended, and before the next connection is dialled. The connection is "up" ({@link
 * #isConnected()}, {@link #sender()}) from the end of its start hooks — once the connect hook
 * returned and the messages kept while offline were handed to the new sender; not waiting for a
 * first byte from the server — until it starts to close. One whose connect hook throws is never
 * up: a failed attempt (see {@link #onConnect}).
 *
 * <p><b>Sending.</b> {@link #put(byte[])} and its keyed forms go to the current connection's sender
 * (its policy applies). While no connection is up they fail at once with
 * {@link NotConnectedException}, unless {@link ClientConfig#offlineCapacity()} is set: then they are
 * kept, in order, in a queue bounded by messages and bytes ({@link QueueFullException} beyond
 * it), and written on the next connection right after its connect hook's messages (so a login
 * goes first) and before anything put later. They are put to that connection's sender as its
 * reader's puts are (waiting for room, per its policy); one it refuses — larger than its byte
 * limit, still no room after that wait, or anything a sender of the user's throws, an Error
 * included — can be written on no connection: it is dropped, counted ({@link #offlineDropped()}) and logged at WARN
 * ({@code client.offline.dropped}, rate-limited), and the rest goes on. Messages a connection had accepted when it broke
 * are lost with it, as on a server: the client does not replay (counted in that sender's
 * statistics, and in what {@link #shutdown(Duration)} reports).
 *
 * <p><b>Lifecycle.</b> NEW → {@link #start()} → running (connecting, connected, waiting to
 * reconnect) → closed, by {@link #close()}, {@link #shutdown(Duration)} (or
 * {@link #runUntilSignal(Duration)}'s, on SIGINT or SIGTERM), giving up, or a failure
 * of its dialler thread (a bug, or out of memory: logged at ERROR, {@code client.failed}; the
 * client does not go on running with no one to dial, it closes as {@link #close()} does).
 * {@link #termination()} completes once the client is closed and its last connection has exited:
 * normally, or exceptionally with a {@link java.net.ConnectException} when it gave up, or with
 * the throwable that ended its dialler thread.
 *
 * <p><b>TLS.</b> With {@link ClientConfig#tls()}, every connection handshakes on its reader thread
 * before the sender factory and {@link #onConnect} run, verifying the server's certificate and
 * host name ({@link TlsConfig}); {@link Connection#tls()} then holds what was settled, and a
 * graceful close ({@link #shutdown(Duration)}) sends {@code close_notify} after what is queued. A
 * handshake that fails — a certificate that is untrusted, expired or for another name included —
 * is a failed attempt like a refused connect: no hook runs, the client backs off and dials again,
 * {@link TlsConfig#handshakeFailures()} counts it, and it is logged at WARN, rate-limited
 * ({@code conn.exit} with the reason, and {@code client.connect.failed}).
 *
 * <p><b>Failed attempts.</b> A dial tries each address of the host in turn; it fails if none
 * connects (the exception names each address and its failure). A connection that comes up and
 * ends before its reader took a whole message from the server (a frame completed, or a reader
 * call returned having consumed bytes), and before it stayed up
 * {@link ClientConfig#reconnectMaxDelay()}, is a failed attempt too (a server at its connection
 * limit, one refusing the client's certificate after a TLS 1.3 handshake, a TLS server's alert
 * to a client that speaks plain text): its connect and
 * disconnect hooks have run, and it counts towards {@link ClientConfig#maxAttempts()} and is
 * logged as {@code client.connect.failed}; so is one whose connect hook threw, which never came up
 * ({@link #onConnect}). Any other connection ends a run of failures.
 *
 * <p><b>Thread safety.</b> All methods are safe from any thread, hooks included.
 */
public interface TcpClient extends AutoCloseable {

    /** Creates a client; nothing is dialled until {@link #start()}. */
    static TcpClient create(ClientConfig config, ConnectionReader reader, SenderFactory senderFactory) {
        return new RealTcpClient(config, reader, senderFactory);
    }

    /** Runs when a connection of the client ends (the server's exit hook, with the reason). */
    @FunctionalInterface
    interface DisconnectHook {
        /**
         * Handles the end of the connection behind {@code sender}, on its reader thread, once.
         *
         * @param reason why it ended, as {@link Connection#closeReason()}
         */
        void onDisconnect(Sender sender, CloseReason reason) throws Exception;
    }

    /** Runs once when the client gives up ({@link ClientConfig#maxAttempts()}). */
    @FunctionalInterface
    interface GiveUpHook {
        /**
         * Handles the client giving up, on its dialler thread.
         *
         * @param attempts the failed attempts in a row
         * @param lastFailure why the last one failed
         */
        void onGiveUp(int attempts, Throwable lastFailure) throws Exception;
    }

    /**
     * Sets the hook run when a connection is made (the server's start hook), on its reader thread,
     * before the reader; {@code null} clears it. Applies to connections made afterwards.
     *
     * <p>A hook that throws fails the connection (unlike a server's start hook, whose failure is
     * only logged): it is logged at WARN ({@code conn.hook.failed} with {@code hook=connect}), the
     * connection closes for the reason the exception gives, as a reader's would — the disconnect
     * hook sees it, {@link Connection#closeCause()} is the exception, and what the hook put is
     * written first if that reason {@linkplain CloseReason#flushes() flushes} — and never goes up:
     * nothing kept offline nor put later is handed to it. It is a failed attempt: the client backs
     * off and dials again, and gives up after {@link ClientConfig#maxAttempts()} in a row. A
     * disconnect hook that throws is logged ({@code hook=disconnect}), and changes nothing.
     *
     * <p>The connection is up once the hook has returned, so the hook puts to the sender it is
     * given (a login, say): {@link #put(byte[])} and {@link #sender()} do not have the connection
     * yet, and throw {@link NotConnectedException} ("connecting"), or, with an offline queue, keep
     * the message until the hook has returned, behind what the hook put.
     *
     * <p>The hook may also read from {@code sender.connection()}, on the reader's thread: a login
     * that waits for the server's answer, and throws when it does not come or refuses, makes the
     * connection up only once a server accepted it, which a client behind a TCP balancer needs
     * (the balancer accepts while it has no server to pass the client to; messages handed to that
     * connection would be lost with it). The offline queue keeps its messages for the next
     * connection whose hook returns. A {@link #close()} or {@link #shutdown(Duration)} meanwhile
     * ends such a wait at once (a shutdown as it does a reader waiting between messages, if the
     * hook has read nothing yet): the hook's read throws, and the connection ends
     * {@link CloseReason#CLOSED} or {@link CloseReason#SHUTDOWN}, never up; that failure, the
     * client's own doing, is logged at DEBUG.
     */
    TcpClient onConnect(@Nullable ConnectionHook hook);

    /** Sets the hook run when a connection ends (the server's exit hook); see {@link #onConnect}. */
    TcpClient onDisconnect(@Nullable DisconnectHook hook);

    /** Sets the hook run when the client gives up; a hook that throws is logged at WARN. */
    TcpClient onGiveUp(@Nullable GiveUpHook hook);

    /**
     * Starts dialling, in the background: returns at once. Failures to connect are retried with
     * back-off and logged ({@code client.connect.failed}, WARN, at most one line per 10 s with the
     * number held back).
     *
     * @return this client
     * @throws IllegalStateException if already started or closed, or if the class path has an
     *     slf4j-api older than 2.0 (the message names it and the fix)
     */
    TcpClient start();

    /** Whether a connection is up now. */
    boolean isConnected();

    /**
     * Waits until a connection is up.
     *
     * @return true if one is up; false on timeout, or if the client is closed (gave up or failed included)
     */
    boolean awaitConnected(Duration timeout) throws InterruptedException;

    /**
     * The current connection's sender.
     *
     * @throws NotConnectedException if no connection is up; the message says whether the client is
     *     connecting, closed, gave up, or failed
     */
    Sender sender();

    /** Sends on the current connection, or keeps the message while offline; see the class comment. */
    void put(byte[] bytes);

    /**
     * {@link #put(byte[])} with an int key, for a conflating sender ({@link Sender#put(int, byte[])}).
     * While offline the message is kept with its key, but the offline queue does not conflate:
     * each one counts against {@link ClientConfig#offlineCapacity()} until the next connection's
     * sender takes them, in order, and conflates those still queued there.
     */
    void put(int key, byte[] bytes);

    /**
     * {@link #put(byte[])} with a string key, for a conflating sender ({@link Sender#put(String, byte[])});
     * kept offline unconflated, as {@link #put(int, byte[])}, its key counting two bytes a char
     * against {@link ClientConfig#offlineMaxBytes()} with the message's bytes.
     */
    void put(String key, byte[] bytes);

    /**
     * Connections made so far: those that came up, their connect hook (if any) having returned. A
     * failed attempt that never came up is not one: a connect or TLS handshake that failed, a
     * connect hook that threw (a refused login), a close during the hook.
     */
    long connectCount();

    /**
     * Messages kept offline that were then dropped, never written: refused by the sender of the
     * connection they were handed to (see the class comment). Not counted: what a close discards.
     * A {@link #shutdown(Duration)} reports them as not written.
     */
    long offlineDropped();

    /**
     * Stops reconnecting and ends the connection at once, discarding what is queued (its exit
     * hooks run on its own thread) and what the offline queue holds. Cuts a back-off wait or a
     * connect attempt short, and a {@link #shutdown(Duration)} under way on another thread too:
     * its dialling for the offline backlog and its flush stop, what the offline queue and the
     * connection have not written yet is discarded (counted, as any close's), and that shutdown
     * returns false (unless everything was written already).
     * Idempotent, any thread, does not wait: see
     * {@link #termination()}.
     */
    @Override
    void close();

    /**
     * Closes gracefully: delivers what the offline queue holds (dialling on for it if no
     * connection is up: see below), lets the reader call in progress finish, lets the
     * current connection write what it has queued and close ({@link CloseReason#SHUTDOWN}), and
     * waits — at most {@code grace}, plus up to 5 s if the connection must then be closed by force
     * — for the client to terminate.
     *
     * <p>As a server's {@linkplain TcpServer#shutdown(Duration) shutdown} does with each of its
     * connections: a reader call that has already read part of a message from the server when the
     * shutdown begins runs to its return — its puts, and other threads' puts to that connection's
     * sender, are taken until then, and a reader waiting for the rest of its message goes on
     * reading it (within {@link ClientConfig#frameTimeout()}) — then the connection begins no new
     * reader call, writes its queue, shuts its output down and closes. A connection whose reader
     * waits between messages — idle, or blocked in a read that has read nothing of its next
     * message — is shut down at once, and a message that reaches it after that is not read; so is
     * one whose connect hook waits for the server having read nothing (a login's answer: see
     * {@link #onConnect}). A
     * reader that handles many messages in one call, looping inside it, is in progress for as long
     * as that call runs. At the deadline the connection is closed by force and the call
     * interrupted. From the start of the shutdown the client's own puts ({@link #put(byte[])} and
     * its keyed forms) and {@link #sender()} throw {@link NotConnectedException} (the client is
     * closed; a sender taken before is the connection's, and takes puts as above).
     *
     * <p>What the offline queue holds ({@link ClientConfig#offlineCapacity()}) goes out first,
     * within {@code grace}: a hand-over of it to a new connection that is under way is finished —
     * the connection runs as before meanwhile, its reader reading the server's replies —; if no
     * connection is up, the client goes on dialling, as its back-off and {@link
     * ClientConfig#maxAttempts()} say, and the connection that comes up is handed the backlog, in
     * order, after its connect hook's messages, as on any reconnection (its hooks run; if it breaks,
     * the next is handed the rest). Then that connection shuts down as above. What no connection's
     * sender has been given when the grace runs out (the dial then under way is ended), or when a
     * {@link #close()} cuts the shutdown short or the client gives up ({@link ClientConfig#maxAttempts()}
     * failed attempts in a row: the shutdown closed the client already, so no give-up hook runs and
     * {@link #termination()} completes normally), is discarded, counted
     * (logged {@code client.offline.discarded} at DEBUG) and makes the shutdown return false, as
     * does a message of the backlog that the sender refuses ({@link #offlineDropped()}). It
     * waits for the connection's hooks and reader to finish, so it must be called from elsewhere:
     * on the client's own threads — the reader, the connect and disconnect hooks (on the reader's
     * thread), the give-up hook (on the dialler's) — it would wait for the call it is part of, so
     * there it throws {@link IllegalStateException} at once and changes nothing. From there, call
     * {@link #close()}, which does not wait, or start a thread for the shutdown:
     * {@code Thread.ofVirtual().start(() -> client.shutdown(grace))}.
     *
     * <p>It reports on every message the client accepted over its life — put while a connection
     * was up or kept offline, or put to a connection's {@linkplain #sender() sender} (by the
     * connect hook, say) —: it returns false if any was not written, whoever discarded it — a
     * close, this one or an earlier one, or the end of a connection that broke, before the
     * shutdown or during it (the client does not replay: what that connection's sender held is
     * lost, and counted) — or if a sender refused a kept message ({@link #offlineDropped()}).
     * What a sender's own policy let go of is not counted: a message replaced by a newer one of its
     * key (conflation) or dropped for a newer one ({@link OverflowPolicy#DROP_OLDEST}) was given up
     * as that policy says, and is in the sender's stats, not here. The count is logged at DEBUG
     * ({@code client.shutdown}, {@code discarded}).
     *
     * <p>On a client that is closed already — by {@link #close()}, another shutdown, giving up or a
     * failure, even one under way on another thread — it waits for that same end (at most
     * {@code grace}) and reports on it: false if anything the client accepted was not written, as
     * above (that close discarded something, queued offline or on the connection, say), or if the
     * client gave up or failed. A {@link #close()} during a shutdown
     * cuts it short: the connection is closed at once, the rest of its queue and of the offline
     * backlog discarded, and the shutdown returns as soon as the client has terminated.
     *
     * @return true if every message the client accepted was written (none of it discarded by a
     *     close, this one or an earlier one, lost with a connection that broke, or dropped from the
     *     offline queue) and the client terminated within {@code grace}, not having given up or
     *     failed
     * @throws IllegalStateException if called on one of the client's own threads (see above)
     */
    boolean shutdown(Duration grace) throws InterruptedException;

    /**
     * Runs until SIGINT or SIGTERM, then {@linkplain #shutdown(Duration) shuts down gracefully}
     * (the message from the server that the reader is handling is answered, the offline backlog
     * and the connection's queue are written, an idle connection closes at once) and returns — the
     * last line of the {@code main} of a device simulator or a bot, which then returns and the
     * JVM exits 0 (a shutdown hook cannot do that: a JVM ended by a signal exits 130 or 143).
     * Starts the client first if it is not started. A second signal during the shutdown closes the
     * client at once ({@link #close()}), and what that close discards makes the result false, even
     * when the second signal closes the client before the shutdown has begun (a process group's
     * kill, as {@code timeout} sends, delivers one SIGTERM twice). Returns early, without a
     * shutdown, if the client terminates by itself: true if it was closed from elsewhere (a
     * {@link #close()} or a {@link #shutdown(Duration)} on another thread, as a server's returns
     * true when closed from elsewhere), else it throws what ended it, as {@link #termination()}
     * holds it: the {@link ConnectException} of giving up, or what ended its dialler thread.
     *
     * <p>The signals are taken as {@link TcpServer#runUntilSignal(Duration)} takes them, and shared
     * with it: from the call until it returns, every server and client waiting at once (each on a
     * thread of its own) hears each signal, and once none waits any more the signals do what they
     * did before — by default, end the JVM. A signal stays received: called after one came, this
     * shuts the client down at once, within {@code grace}, instead of waiting for another; only a
     * signal after the call counts as the second one. The first signal is logged at INFO
     * ({@code client.signal}, with the {@code address} and the {@code grace}). Where the runtime
     * has no {@code sun.misc.Signal} (module {@code jdk.unsupported}), the shutdown runs from a
     * shutdown hook instead and the exit code is the JVM's.
     *
     * <p>Like {@link #shutdown(Duration)}, it throws {@link IllegalStateException} on one of the
     * client's own threads, before it starts or changes anything.
     *
     * @return true if the shutdown wrote every message the client accepted within {@code grace}
     *     (as {@link #shutdown(Duration)} returns), and a second signal's close discarded nothing;
     *     true too if the client was closed from elsewhere before any signal
     * @throws ConnectException if the client gave up ({@link ClientConfig#maxAttempts()} failed
     *     attempts in a row) before any signal: the one {@link #termination()} completes with
     * @throws IllegalStateException if called on one of the client's own threads, or if it starts
     *     the client and the class path has an slf4j-api older than 2.0 (as {@link #start()})
     */
    boolean runUntilSignal(Duration grace) throws InterruptedException, ConnectException;

    /**
     * Completes once the client is closed and its last connection has exited: normally after
     * {@link #close()} or {@link #shutdown(Duration)}, exceptionally with a
     * {@link java.net.ConnectException} (its cause the last failure) if it gave up while running
     * (not while a shutdown dials on for the offline backlog: closed by it already), or with the
     * throwable that ended its dialler thread (see the class comment).
     */
    CompletableFuture<Void> termination();

    /**
     * Waits at most {@code timeout} for {@link #termination()}, however it completes.
     *
     * @return false on timeout
     * @throws IllegalStateException if called on one of the client's own threads: it would wait for
     *     itself, as {@link #shutdown} would
     */
    boolean awaitTermination(Duration timeout) throws InterruptedException;
}
