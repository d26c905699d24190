package io.stcp.internal;

import io.stcp.Sender;
import java.util.AbstractCollection;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * Names (user ids, group names) to the registry members bound to them.
 *
 * <p>A name's value is sized to its members, since most users have one connection or a few, and
 * many groups are small: one member is the {@link RegistryMember} itself (a map
 * entry is all the binding costs); two to {@value #SMALL} are an array, copied on every change;
 * more are a {@link MemberSet}, which goes back to an array when it shrinks to {@value #SHRINK}
 * and is copied into a smaller table when it drops to a quarter of its peak (a table never shrinks
 * by itself). A name is in the map exactly while someone is bound to it.
 *
 * <p>Every change of a name's value happens inside {@link ConcurrentHashMap#compute} on that name,
 * so changes to one name are serialized and an emptied name is removed atomically with its last
 * member. Readers take the value without locking: a member or an array never changes once
 * published, and a pass over a {@link MemberSet} meets each member at most once. So a send or an
 * iteration reaches each member at most once, whatever joins and leaves run meanwhile.
 */
final class Bindings {
    /** The largest array; one more member makes a set. */
    static final int SMALL = 8;
    /** A set this small goes back to an array. */
    static final int SHRINK = SMALL / 2;

    private final ConcurrentHashMap<String, Object> names = new ConcurrentHashMap<>();

    /** Binds {@code m} to {@code name}; no effect if it is bound already. */
    void add(String name, RegistryMember m) {
        names.compute(name, (k, v) -> {
            if (v == null || v == m) {
                return m;
            }
            if (v instanceof RegistryMember one) {
                return new RegistryMember[] {one, m};
            }
            if (v instanceof RegistryMember[] few) {
                if (indexOf(few, m) >= 0) {
                    return few;
                }
                if (few.length < SMALL) {
                    RegistryMember[] more = Arrays.copyOf(few, few.length + 1);
                    more[few.length] = m;
                    return more;
                }
                return new MemberSet(few, m);
            }
            ((MemberSet) v).add(m);
            return v;
        });
    }

    /** What {@link #bindOnly} returns when it changed nothing. */
    static final Object REFUSED = new Object();

    /**
     * Makes {@code m} the only member bound to {@code name}, in one step, if {@code mayUnbind}
     * accepts each other member bound to it now; returns what was bound before (in {@link #get}'s
     * form: null, a member, an array or a set, which nothing changes any more), or {@link #REFUSED}
     * with nothing changed.
     */
    @Nullable Object bindOnly(String name, RegistryMember m, Predicate<RegistryMember> mayUnbind) {
        Object[] before = {REFUSED};
        names.compute(name, (k, v) -> {
            for (Iterator<RegistryMember> it = iterate(v); it.hasNext(); ) {
                RegistryMember other = it.next();
                if (other != m && !mayUnbind.test(other)) {
                    return v;
                }
            }
            before[0] = v;
            return m;
        });
        return before[0];
    }

    /** Unbinds {@code m} from {@code name}; the name goes when its last member does. */
    void remove(String name, RegistryMember m) {
        names.computeIfPresent(name, (k, v) -> {
            if (v == m) {
                return null;
            }
            if (v instanceof RegistryMember[] few) {
                int i = indexOf(few, m);
                if (i < 0) {
                    return few;
                }
                if (few.length == 2) {
                    return few[1 - i];
                }
                RegistryMember[] fewer = new RegistryMember[few.length - 1];
                System.arraycopy(few, 0, fewer, 0, i);
                System.arraycopy(few, i + 1, fewer, i, few.length - i - 1);
                return fewer;
            }
            if (v instanceof MemberSet many) {
                if (!many.remove(m)) {
                    return many;
                }
                if (many.size() > SHRINK) {
                    MemberSet smaller = many.compacted();
                    return smaller != null ? smaller : many;
                }
                RegistryMember[] few = many.toArray();
                return few.length == 0 ? null : few.length == 1 ? few[0] : few;
            }
            return v;
        });
    }

    private static int indexOf(RegistryMember[] few, RegistryMember m) {
        for (int i = 0; i < few.length; i++) {
            if (few[i] == m) {
                return i;
            }
        }
        return -1;
    }

    /** The value of {@code name} now: null, one member, an array or a set of them; see {@link #iterate}. */
    @Nullable Object get(String name) {
        return names.get(name);
    }

    /** The names bound now: a live, unmodifiable view. */
    Set<String> names() {
        return Collections.unmodifiableSet(names.keySet());
    }

    /** The senders bound to {@code name}: a live, unmodifiable, weakly consistent view. */
    Collection<Sender> view(String name) {
        return new AbstractCollection<>() {
            @Override
            public Iterator<Sender> iterator() {
                Iterator<RegistryMember> it = iterate(names.get(name));
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
                Object v = names.get(name);
                return v == null ? 0 : v instanceof MemberSet many ? many.size()
                        : v instanceof RegistryMember[] few ? few.length : 1;
            }
        };
    }

    /** The members in a value of {@link #get}. */
    static Iterator<RegistryMember> iterate(@Nullable Object value) {
        if (value == null) {
            return Collections.emptyIterator();
        }
        if (value instanceof RegistryMember one) {
            return new Iterator<>() {
                private boolean done;

                @Override
                public boolean hasNext() {
                    return !done;
                }

                @Override
                public RegistryMember next() {
                    if (done) {
                        throw new NoSuchElementException();
                    }
                    done = true;
                    return one;
                }
            };
        }
        if (value instanceof RegistryMember[] few) {
            return Arrays.asList(few).iterator();
        }
        return ((MemberSet) value).iterator();
    }
}
