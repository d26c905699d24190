package io.stcp.internal;

import io.stcp.ConnectionRegistry;
import io.stcp.SendResult;
import io.stcp.Sender;
import java.util.AbstractCollection;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * The {@link ConnectionRegistry} implementation.
 *
 * <p><b>State.</b> {@link #members}: connection id → {@link RegistryMember}; {@link #users} and
 * {@link #groups}: name → the members bound to it ({@link Bindings}). A member's own bindings
 * ({@link RegistryMember#user}, {@link RegistryMember#groups}) and its
 * {@link RegistryMember#removed} flag are written only under its stripe lock
 * ({@link #lock(RegistryMember)}), and the maps of names are changed while that lock is held, so
 * the two sides always agree once the lock is released.
 *
 * <p><b>Exit race.</b> {@link #remove} takes the member out of {@link #members}, then, under its
 * lock, marks it removed and takes its bindings; only then does it unbind them from the maps. A
 * bind holds the same lock from its check of {@code removed} to its change of the maps. So a bind
 * either happened before the removal took the lock — and the removal sees and undoes it — or
 * after, and finds the member removed and does nothing. No name can keep a removed member.
 *
 * <p><b>Exclusive bind.</b> {@link #bindUserExclusively} changes other members too: it holds the
 * stripes of its member and of every member bound to the user, so that each side of each binding
 * still changes only under its member's stripe. It reads who is bound, takes those stripes, then
 * replaces the user's members with its own in one {@link Bindings#bindOnly} — which refuses, changing
 * nothing, if someone bound meanwhile holds a stripe it lacks; it then lets go and takes that stripe
 * too. The set of stripes only grows, so it is done within {@value #STRIPES} tries. Two exclusive
 * binds of one user are serialized by that name's {@code compute}: the second finds the first's
 * member, whose stripe it must hold, so it waits until the first is done and then unbinds it.
 *
 * <p><b>Locks.</b> One of {@value #STRIPES} {@link ReentrantLock}s per member, chosen by its id,
 * rather than a lock object per member (which would cost more than the member). A thread holds one
 * stripe, or (an exclusive bind) several taken in ascending order, then may take
 * {@link ConcurrentHashMap}'s bin locks inside them; nothing takes a stripe while holding a bin
 * lock, so there is no lock-order cycle. No user code runs under either.
 */
public final class RealConnectionRegistry implements ConnectionRegistry {
    /** At most 64: a {@code long} holds a set of them (a bit per stripe). */
    private static final int STRIPES = 64;

    private final ConcurrentHashMap<Long, RegistryMember> members = new ConcurrentHashMap<>();
    private final Bindings users = new Bindings();
    private final Bindings groups = new Bindings();
    private final ReentrantLock[] stripes = new ReentrantLock[STRIPES];

    public RealConnectionRegistry() {
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new ReentrantLock();
        }
    }

    /**
     * The registry behind {@code registry}.
     *
     * @throws IllegalArgumentException if it was not made by {@link ConnectionRegistry#create()}
     */
    public static RealConnectionRegistry of(ConnectionRegistry registry) {
        if (registry instanceof RealConnectionRegistry real) {
            return real;
        }
        throw new IllegalArgumentException("registry: a " + registry.getClass().getName()
                + " (expected: one made by ConnectionRegistry.create())");
    }

    // ---------------------------------------------------------------- membership (the server)

    /** Registers {@code sender}'s connection; called before its start hooks, on its reader thread. */
    public void add(Sender sender) {
        long id = sender.connection().id();
        members.putIfAbsent(id, new RegistryMember(id, sender));
    }

    /** Removes connection {@code id} and every binding of it; called after its exit hooks. No effect if absent. */
    public void remove(long id) {
        RegistryMember m = members.remove(id);
        if (m == null) {
            return;
        }
        String user;
        String[] gs;
        ReentrantLock lock = lock(m);
        try {
            m.removed = true;
            user = m.user;
            gs = m.groups;
            m.user = null;
            m.groups = RegistryMember.NO_GROUPS;
        } finally {
            lock.unlock();
        }
        // Nothing can bind m any more: unbinding outside the lock is final.
        if (user != null) {
            users.remove(user, m);
        }
        for (String g : gs) {
            groups.remove(g, m);
        }
    }

    private ReentrantLock lock(RegistryMember m) {
        ReentrantLock lock = stripes[stripe(m)];
        lock.lock();
        return lock;
    }

    private static int stripe(RegistryMember m) {
        return (int) (m.id ^ (m.id >>> 32)) & (STRIPES - 1);
    }

    /** The stripes of the members in {@code value} ({@link Bindings#get}'s form), a bit each. */
    private static long stripesOf(@Nullable Object value) {
        long set = 0;
        for (Iterator<RegistryMember> it = Bindings.iterate(value); it.hasNext(); ) {
            set |= 1L << stripe(it.next());
        }
        return set;
    }

    /** Locks the stripes in {@code set} in ascending order: see the class comment, Locks. */
    private void lockAll(long set) {
        for (long s = set; s != 0; s &= s - 1) {
            stripes[Long.numberOfTrailingZeros(s)].lock();
        }
    }

    private void unlockAll(long set) {
        for (long s = set; s != 0; s &= s - 1) {
            stripes[Long.numberOfTrailingZeros(s)].unlock();
        }
    }

    private @Nullable RegistryMember member(Sender sender) {
        return members.get(Objects.requireNonNull(sender, "sender").connection().id());
    }

    // ---------------------------------------------------------------- lookups

    @Override
    public @Nullable Sender connection(long connectionId) {
        RegistryMember m = members.get(connectionId);
        return m == null ? null : m.sender;
    }

    @Override
    public Collection<Sender> connections() {
        return new AbstractCollection<>() {
            @Override
            public Iterator<Sender> iterator() {
                Iterator<RegistryMember> it = members.values().iterator();
                return new Iterator<>() {
                    @Override
                    public boolean hasNext() {
                        return it.hasNext();
                    }

                    @Override
                    public Sender next() {
                        return it.next().sender;
                    }
                };
            }

            @Override
            public int size() {
                return members.size();
            }
        };
    }

    @Override
    public int connectionCount() {
        return members.size();
    }

    @Override
    public Collection<Sender> user(String userId) {
        return users.view(Objects.requireNonNull(userId, "userId"));
    }

    @Override
    public Collection<Sender> group(String group) {
        return groups.view(Objects.requireNonNull(group, "group"));
    }

    @Override
    public Set<String> users() {
        return users.names();
    }

    @Override
    public Set<String> groups() {
        return groups.names();
    }

    @Override
    public @Nullable String userOf(Sender sender) {
        RegistryMember m = member(sender);
        return m == null ? null : m.user;
    }

    @Override
    public Set<String> groupsOf(Sender sender) {
        RegistryMember m = member(sender);
        return m == null ? Set.of() : Set.of(m.groups);
    }

    // ---------------------------------------------------------------- bindings

    @Override
    public boolean bindUser(Sender sender, String userId) {
        Objects.requireNonNull(userId, "userId");
        RegistryMember m = member(sender);
        if (m == null) {
            return false;
        }
        ReentrantLock lock = lock(m);
        try {
            if (m.removed) {
                return false;
            }
            String old = m.user;
            if (userId.equals(old)) {
                return true;
            }
            if (old != null) {
                users.remove(old, m);
            }
            users.add(userId, m);
            m.user = userId;
            return true;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public Collection<Sender> bindUserExclusively(Sender sender, String userId) {
        Objects.requireNonNull(userId, "userId");
        RegistryMember m = member(sender);
        if (m == null) {
            return new ArrayList<>(); // the caller's, as the javadoc says, even when empty
        }
        long held = 1L << stripe(m) | stripesOf(users.get(userId));
        while (true) {
            long[] missing = {0};
            long locked = held;
            lockAll(locked);
            try {
                if (m.removed) {
                    return new ArrayList<>();
                }
                Object before = users.bindOnly(userId, m, other -> {
                    long bit = 1L << stripe(other);
                    missing[0] |= bit & ~locked;
                    return (bit & locked) != 0;
                });
                if (before != Bindings.REFUSED) {
                    return boundOnly(m, userId, before);
                }
            } finally {
                unlockAll(locked);
            }
            held |= missing[0]; // someone bound meanwhile under a stripe not held: take it too
        }
    }

    /**
     * The members' side of an exclusive bind that made {@code m} the only member of {@code userId},
     * replacing {@code before}: under the stripes of all of them. Returns the senders it unbound.
     */
    private List<Sender> boundOnly(RegistryMember m, String userId, @Nullable Object before) {
        String old = m.user;
        if (old != null && !old.equals(userId)) {
            users.remove(old, m);
        }
        m.user = userId;
        List<Sender> unbound = new ArrayList<>();
        for (Iterator<RegistryMember> it = Bindings.iterate(before); it.hasNext(); ) {
            RegistryMember other = it.next();
            if (other != m && !other.removed) { // a removed one has no user already, and is leaving
                other.user = null;
                unbound.add(other.sender);
            }
        }
        return unbound;
    }

    @Override
    public boolean unbindUser(Sender sender) {
        RegistryMember m = member(sender);
        if (m == null) {
            return false;
        }
        ReentrantLock lock = lock(m);
        try {
            String old = m.user;
            if (m.removed || old == null) {
                return false;
            }
            users.remove(old, m);
            m.user = null;
            return true;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public boolean joinGroup(Sender sender, String group) {
        Objects.requireNonNull(group, "group");
        RegistryMember m = member(sender);
        if (m == null) {
            return false;
        }
        ReentrantLock lock = lock(m);
        try {
            if (m.removed || m.groupIndex(group) >= 0) {
                return false;
            }
            groups.add(group, m);
            m.addGroup(group);
            return true;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public boolean leaveGroup(Sender sender, String group) {
        Objects.requireNonNull(group, "group");
        RegistryMember m = member(sender);
        if (m == null) {
            return false;
        }
        ReentrantLock lock = lock(m);
        try {
            int i = m.groupIndex(group);
            if (m.removed || i < 0) {
                return false;
            }
            groups.remove(group, m);
            m.removeGroup(i);
            return true;
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- sends

    @Override
    public SendResult sendTo(long connectionId, byte[] bytes) {
        return toOne(connectionId, null, bytes);
    }

    @Override
    public SendResult sendTo(long connectionId, int key, byte[] bytes) {
        return toOne(connectionId, key, bytes);
    }

    @Override
    public SendResult sendTo(long connectionId, String key, byte[] bytes) {
        return toOne(connectionId, Objects.requireNonNull(key, "key"), bytes);
    }

    @Override
    public SendResult sendToUser(String userId, byte[] bytes) {
        return toNamed(users, "userId", userId, null, bytes);
    }

    @Override
    public SendResult sendToUser(String userId, int key, byte[] bytes) {
        return toNamed(users, "userId", userId, key, bytes);
    }

    @Override
    public SendResult sendToUser(String userId, String key, byte[] bytes) {
        return toNamed(users, "userId", userId, Objects.requireNonNull(key, "key"), bytes);
    }

    @Override
    public SendResult sendToGroup(String group, byte[] bytes) {
        return toNamed(groups, "group", group, null, bytes);
    }

    @Override
    public SendResult sendToGroup(String group, int key, byte[] bytes) {
        return toNamed(groups, "group", group, key, bytes);
    }

    @Override
    public SendResult sendToGroup(String group, String key, byte[] bytes) {
        return toNamed(groups, "group", group, Objects.requireNonNull(key, "key"), bytes);
    }

    @Override
    public SendResult broadcast(byte[] bytes) {
        return toAll(null, bytes);
    }

    @Override
    public SendResult broadcast(int key, byte[] bytes) {
        return toAll(key, bytes);
    }

    @Override
    public SendResult broadcast(String key, byte[] bytes) {
        return toAll(Objects.requireNonNull(key, "key"), bytes);
    }

    private SendResult toOne(long connectionId, @Nullable Object key, byte[] bytes) {
        Delivery d = new Delivery(key, bytes);
        RegistryMember m = members.get(connectionId);
        if (m != null) {
            d.offer(m.sender);
        }
        return d.finish();
    }

    /** A send to the members bound to {@code name}, the argument called {@code what} (for the error when it is null). */
    private static SendResult toNamed(Bindings bindings, String what, String name, @Nullable Object key, byte[] bytes) {
        Delivery d = new Delivery(key, bytes);
        Object value = bindings.get(Objects.requireNonNull(name, what));
        if (value instanceof RegistryMember one) {
            d.offer(one.sender);
        } else if (value instanceof RegistryMember[] few) {
            for (RegistryMember m : few) {
                d.offer(m.sender);
            }
        } else if (value instanceof MemberSet many) {
            many.forEach(m -> d.offer(m.sender));
        }
        return d.finish();
    }

    private SendResult toAll(@Nullable Object key, byte[] bytes) {
        Delivery d = new Delivery(key, bytes);
        for (RegistryMember m : members.values()) {
            d.offer(m.sender);
        }
        return d.finish();
    }

    @Override
    public String toString() {
        return "ConnectionRegistry[connections=" + members.size() + "]";
    }
}
