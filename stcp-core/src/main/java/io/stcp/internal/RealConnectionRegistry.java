package io.stcp.internal;

import io.stcp.ConnectionRegistry;
import io.stcp.SendResult;
import io.stcp.Sender;
import java.util.AbstractCollection;
import java.util.Collection;
import java.util.Iterator;
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
 * <p><b>Locks.</b> One of {@value #STRIPES} {@link ReentrantLock}s per member, chosen by its id,
 * rather than a lock object per member (which would cost more than the member). A thread holds at
 * most one stripe, then may take {@link ConcurrentHashMap}'s bin locks inside it; nothing takes a
 * stripe while holding a bin lock, so there is no lock-order cycle. No user code runs under either.
 */
public final class RealConnectionRegistry implements ConnectionRegistry {
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
        ReentrantLock lock = stripes[(int) (m.id ^ (m.id >>> 32)) & (STRIPES - 1)];
        lock.lock();
        return lock;
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
