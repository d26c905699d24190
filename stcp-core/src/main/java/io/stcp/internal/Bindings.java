package io.stcp.internal;

import io.stcp.Sender;
import java.util.AbstractCollection;
import java.util.Collection;
import java.util.Collections;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * Names (user ids, group names) to the registry members bound to them.
 *
 * <p>A name with one member maps to that {@link RealConnectionRegistry.Member} itself — most users
 * have one connection, and a map entry is all such a binding costs; a name with more maps to a
 * concurrent set of them. A name is in the map exactly while someone is bound to it. Every change
 * of a name's value happens inside {@link ConcurrentHashMap#compute} on that name, so changes to
 * one name are serialized and an emptied set is removed atomically with its last member; readers
 * take the value without locking and iterate it weakly consistently.
 */
final class Bindings {
    private final ConcurrentHashMap<String, Object> names = new ConcurrentHashMap<>();

    /** Binds {@code m} to {@code name}; no effect if it is bound already. */
    void add(String name, RealConnectionRegistry.Member m) {
        names.compute(name, (k, v) -> {
            if (v == null || v == m) {
                return m;
            }
            if (v instanceof RealConnectionRegistry.Member one) {
                Set<RealConnectionRegistry.Member> set = ConcurrentHashMap.newKeySet();
                set.add(one);
                set.add(m);
                return set;
            }
            members(v).add(m);
            return v;
        });
    }

    /** Unbinds {@code m} from {@code name}; the name goes when its last member does. */
    void remove(String name, RealConnectionRegistry.Member m) {
        names.computeIfPresent(name, (k, v) -> {
            if (v == m) {
                return null;
            }
            if (v instanceof Set<?>) {
                Set<RealConnectionRegistry.Member> set = members(v);
                set.remove(m);
                return set.isEmpty() ? null : set;
            }
            return v;
        });
    }

    /** The value of {@code name} now: null, one member, or a set of them; see {@link #iterate}. */
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
                Iterator<RealConnectionRegistry.Member> it = iterate(names.get(name));
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
                return v == null ? 0 : v instanceof Set<?> set ? set.size() : 1;
            }
        };
    }

    /** The members in a value of {@link #get}. */
    static Iterator<RealConnectionRegistry.Member> iterate(@Nullable Object value) {
        if (value == null) {
            return Collections.emptyIterator();
        }
        if (value instanceof RealConnectionRegistry.Member one) {
            return new Iterator<>() {
                private boolean done;

                @Override
                public boolean hasNext() {
                    return !done;
                }

                @Override
                public RealConnectionRegistry.Member next() {
                    if (done) {
                        throw new NoSuchElementException();
                    }
                    done = true;
                    return one;
                }
            };
        }
        return members(value).iterator();
    }

    @SuppressWarnings("unchecked")
    private static Set<RealConnectionRegistry.Member> members(Object value) {
        return (Set<RealConnectionRegistry.Member>) value;
    }
}
