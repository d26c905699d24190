package io.stcp;

/**
 * Sends one message to many connections: every connection of a user, every member of a group, or
 * every connection. {@link ConnectionRegistry} does it for the connections of this process; the
 * same calls can be offered across several servers (a cluster layer publishing to the other nodes
 * and delivering there through their own registries), which is why this interface has nothing
 * that is only meaningful in one process, such as a connection id.
 *
 * <p><b>Delivery.</b> Each recipient gets the message through its own {@link Sender}, so its
 * policy applies: queue limits, {@link OverflowPolicy}, conflation. The keyed forms call the
 * recipient's {@link Sender#put(int, byte[])} or {@link Sender#put(String, byte[])}: a conflating
 * sender replaces a still-queued message with the same key, per connection. The {@code byte[]}
 * is shared by every recipient and never copied: do not change it after the call.
 *
 * <p><b>Waiting.</b> A fan-out never lets one slow recipient hold up another. It first offers the
 * message to every recipient without waiting; the recipients that would have waited for room — a
 * full {@link QueueSender} with {@link OverflowPolicy#BLOCK}, or the calling reader's own full
 * queue (its backpressure, see {@link QueueSender}) — are then waited for all together, each at
 * most its own limit counted from the start of the call: the block timeout; for the caller's own
 * connection, what its own put would wait (the write timeout, or without limit when there is
 * none). Each of them gets the message as soon as its own queue has room, whatever the others are
 * still waiting for, and refuses it (counted full) once its own limit has passed without room. So
 * a call returns within the longest such limit among its recipients, not their sum, and the
 * recipients with room have the message before anyone waits. The calling thread does the
 * waiting, parked once for all of them (no thread is started for it; what it holds is a small
 * entry per recipient that waits, until the call returns), and the call returns only once every
 * recipient has accepted or refused: a later fan-out from the same thread never overtakes it at
 * any recipient. A caller interrupted while it waits has the recipients still without room
 * refuse the message (counted full), and keeps its interrupt status. A connection's reader that
 * calls it writes the replies it still owes its own peer
 * ({@link QueueSender.Options#batchReplies(boolean)}) before it waits, not after.
 * Under the other policies nothing waits: FAIL refuses, DROP_OLDEST drops, CLOSE_CONNECTION
 * disconnects. A {@link Sender} that is not a {@link QueueSender} is called with its ordinary
 * put, which waits as long as that put does.
 *
 * <p><b>Failure.</b> A recipient that refuses is counted in the {@link SendResult}; nothing is
 * thrown for it. A user or group that nobody is bound to (unknown, or everyone gone) is no error
 * either: every count of the result is 0, as in {@link SendResult#NONE}, while recipients that all
 * refused show in {@link SendResult#refused()}. Recipients that come and go during a call may or
 * may not get the message (the sets are weakly consistent).
 *
 * <p><b>Thread safety.</b> Every method is safe from any thread, readers and hooks included.
 */
public interface Fanout {

    /** Sends to every connection bound to {@code userId} ({@link ConnectionRegistry#bindUser}). */
    SendResult sendToUser(String userId, byte[] bytes);

    /** Sends under an int key to every connection of {@code userId}; see the class comment. */
    SendResult sendToUser(String userId, int key, byte[] bytes);

    /** Sends under a string key to every connection of {@code userId}; see the class comment. */
    SendResult sendToUser(String userId, String key, byte[] bytes);

    /** Sends to every member of {@code group} ({@link ConnectionRegistry#joinGroup}). */
    SendResult sendToGroup(String group, byte[] bytes);

    /** Sends under an int key to every member of {@code group}: conflated per connection. */
    SendResult sendToGroup(String group, int key, byte[] bytes);

    /** Sends under a string key to every member of {@code group}: conflated per connection. */
    SendResult sendToGroup(String group, String key, byte[] bytes);

    /** Sends to every connection. */
    SendResult broadcast(byte[] bytes);

    /** Sends under an int key to every connection: conflated per connection. */
    SendResult broadcast(int key, byte[] bytes);

    /** Sends under a string key to every connection: conflated per connection. */
    SendResult broadcast(String key, byte[] bytes);
}
