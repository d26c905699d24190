package io.stcp.epoll;

import io.stcp.internal.Readiness;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One poller's registered sockets, in a table indexed by file descriptor: a slot per descriptor
 * instead of a map entry, a boxed key and a lambda per socket (about 70 bytes less per connection).
 *
 * <p><b>Descriptors.</b> A socket is registered, and read and written ({@link SocketSyscalls}),
 * by its channel's own descriptor ({@link EpollPoller#register}): one per connection, as on Netty.
 * Only its transport closes the channel, after forgetting the registration ({@link #deregister})
 * and once no call on the number is under way, so no call of stcp's, nor the epoll registration,
 * names the socket the kernel gives the number to next; closing the kernel's file drops its epoll
 * registration. The application cannot close the channel behind the transport's back through
 * {@code Connection.channel()} or its socket (their close is the connection's); closing it by its
 * raw number (a native {@code close}) is outside the contract, as on Netty.
 *
 * <p>A channel the application holds too ({@code Connection.of}) it may close with the JDK's own
 * {@code close()} at any time: such a socket is registered, read and written by a duplicate of the
 * channel's descriptor ({@code fcntl(F_DUPFD_CLOEXEC)}), owned by {@link #duplicates()}, which
 * closes it when the transport says ({@link Readiness#closeDescriptor()}): nothing done to the
 * channel frees the number stcp uses. One descriptor more per such connection.
 *
 * <p>An event carries its registration's token: the descriptor in the low 32 bits and a sequence
 * number above them. A descriptor is reused by the kernel once closed, and an event for the old
 * socket may still be in the poller's hands when a new socket takes the slot; {@link #find}
 * answers only the Readiness whose token the event names, so such an event is ignored (an end or a
 * hang-up is sticky in a Readiness, and would make the new socket look ended for good).
 *
 * <p><b>Threads.</b> Registering and forgetting hold a lock (they happen once per connection and
 * beside system calls); finding is lock-free, on the poll loop. The table only grows: a new array
 * holds the old one's slots before it is published, and slots change only under the lock, so no
 * write is lost to a copy.
 *
 * <p><b>Closing</b>, when the poller dies: {@link #close} (under the lock) makes every later
 * {@link #add} refuse, so {@link #failAll} then finds every socket that was ever added and not yet
 * deregistered, and no other comes.
 *
 * <p><b>Reporting again.</b> {@link #reportAgain} modifies a socket's registration to the same
 * events: the kernel then checks the socket at once and, if it is ready, queues an event for it
 * behind those already queued, which the poll loop signals in turn like any other. It holds a use
 * of the loop's descriptors for the call ({@link PollerFds}); once the loop is dead it reports
 * nothing (false).
 */
final class Registrations implements Readiness.Owner {
    private static final int FIRST_LENGTH = 1024;

    private final PollerFds fds; // null: none
    private final ReentrantLock lock = new ReentrantLock();
    private volatile AtomicReferenceArray<Readiness> slots = new AtomicReferenceArray<>(FIRST_LENGTH);
    private final AtomicInteger count = new AtomicInteger();
    private int sequence; // guarded by lock
    private boolean closed; // guarded by lock
    /** The owner of the registrations made by a duplicate descriptor (see "Descriptors"). */
    private final Readiness.Owner duplicates = new Readiness.Owner() {
        @Override
        public void deregister(Readiness readiness) {
            Registrations.this.deregister(readiness);
        }

        @Override
        public boolean reportAgain(Readiness readiness) throws IOException {
            return Registrations.this.reportAgain(readiness);
        }

        @Override
        public void closeDescriptor(Readiness readiness) {
            Epoll.close((int) readiness.token());
        }
    };

    /**
     * @param fds the poll loop's descriptors, whose epoll instance the sockets are registered with, or
     *     null for none (cannot report again)
     */
    Registrations(PollerFds fds) {
        this.fds = fds;
    }

    /** As {@link #add(int, Readiness.Owner)}, owned by this table: the channel's own descriptor. */
    Readiness add(int fd) {
        return add(fd, this);
    }

    /** The owner of a socket registered by a duplicate of its channel's descriptor, which it closes. */
    Readiness.Owner duplicates() {
        return duplicates;
    }

    /**
     * A new Readiness for the socket {@code fd}, owned by {@code owner} (this table or
     * {@link #duplicates()}), in the slot for {@code fd}; a socket that had the descriptor before
     * and has not deregistered yet is dropped from the table. Null once {@link #close closed}.
     */
    Readiness add(int fd, Readiness.Owner owner) {
        if (fd < 0) {
            throw new IllegalArgumentException("fd: " + fd);
        }
        lock.lock();
        try {
            if (closed) {
                return null;
            }
            AtomicReferenceArray<Readiness> table = slots;
            if (fd >= table.length()) {
                table = grown(table, fd);
            }
            Readiness readiness = new Readiness(owner, (long) ++sequence << 32 | fd);
            if (table.getAndSet(fd, readiness) == null) {
                count.incrementAndGet();
            }
            return readiness;
        } finally {
            lock.unlock();
        }
    }

    /** The Readiness an event with {@code token} is for, or null if it has left. */
    Readiness find(long token) {
        int fd = (int) token;
        AtomicReferenceArray<Readiness> table = slots;
        if (fd < 0 || fd >= table.length()) {
            return null;
        }
        Readiness r = table.getAcquire(fd);
        return r != null && r.token() == token ? r : null;
    }

    /** Empties the slot of {@code readiness}, unless a newer socket with its descriptor holds it. */
    @Override
    public void deregister(Readiness readiness) {
        int fd = (int) readiness.token();
        lock.lock();
        try {
            AtomicReferenceArray<Readiness> table = slots;
            if (fd < table.length() && table.compareAndSet(fd, readiness, null)) {
                count.decrementAndGet();
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public boolean reportAgain(Readiness readiness) throws IOException {
        if (fds == null || !fds.acquire()) { // none, or the poll loop is dead (its descriptors closing)
            return false;
        }
        try {
            Epoll.ctl(fds.epfd(), Epoll.CTL_MOD, (int) readiness.token(), EpollPoller.SOCKET_EVENTS, readiness.token());
            return true;
        } finally {
            fds.release();
        }
    }

    /** Refuses every later {@link #add}: false if closed already. */
    boolean close() {
        lock.lock();
        try {
            boolean was = closed;
            closed = true;
            return !was;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Fails ({@link Readiness#fail}) every socket in the table, each whatever the others throw;
     * after {@link #close}, so that none is added meanwhile. Allocates nothing of its own (a poller
     * may die of an allocation failure).
     */
    void failAll(Throwable cause) {
        AtomicReferenceArray<Readiness> table = slots;
        for (int fd = 0; fd < table.length(); fd++) {
            Readiness r = table.getAcquire(fd);
            if (r != null) {
                try {
                    r.fail(cause); // deregisters it: the slot empties
                } catch (Throwable t) {
                    // its flags are set: its waiters' next wake-up, whatever it is, finds them
                }
            }
        }
    }

    /** Sockets registered and not yet deregistered. */
    int size() {
        return count.get();
    }

    /** A copy of {@code table} long enough for {@code fd} (at least twice as long), published; lock held. */
    private AtomicReferenceArray<Readiness> grown(AtomicReferenceArray<Readiness> table, int fd) {
        AtomicReferenceArray<Readiness> bigger = new AtomicReferenceArray<>(Math.max(fd + 1, 2 * table.length()));
        for (int i = 0; i < table.length(); i++) {
            bigger.setPlain(i, table.getPlain(i));
        }
        slots = bigger; // volatile: the slots copied above are visible with it
        return bigger;
    }
}
