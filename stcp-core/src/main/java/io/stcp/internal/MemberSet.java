package io.stcp.internal;

import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The members of a name that has more than {@link Bindings#SMALL} of them: a concurrent set that
 * a pass over it (a send, or an iteration of a view) meets each member at most once, even a member
 * that leaves and joins again while the pass runs.
 *
 * <p><b>Why.</b> A {@link ConcurrentHashMap} traversal is weakly consistent: a key removed and put
 * again while it runs is a new node, added at the end of its bin, which the traversal can reach
 * after it met the old node. So every node carries the epoch of its join, and a pass takes only
 * the nodes of its own starting epoch or older.
 *
 * <p><b>Epochs.</b> {@link #epoch} only grows, and only on a leave, written after the member is
 * out of the map. A join stamps its node with the epoch as it finds it; a pass reads the epoch
 * once, at its start, and skips the nodes stamped later. Take a member that leaves and joins again
 * during a pass: its new node's stamp is the epoch written by that leave, or a later one. If the
 * pass read an older epoch, it skips the new node and meets at most the old one. If it read that
 * epoch or a later one, the removal of the old node happened before the pass began (a volatile
 * write read by the pass), so the pass can meet only the new node. A member in the set throughout
 * the pass is met exactly once, as the map's traversal promises. The cost: one volatile read per
 * pass and a comparison per node; joins between two leaves share one stamp object.
 *
 * <p><b>Size.</b> A map's table never shrinks, so {@link #compacted()} gives a copy sized for the
 * members left once they drop to a quarter of the most the set has held.
 *
 * <p>Changed only inside {@link Bindings}'s compute on the name, one change at a time; passes take
 * no lock. A set replaced by a copy or an array is not changed again: a pass still over it ends
 * on what it held.
 */
final class MemberSet {
    private final ConcurrentHashMap<RegistryMember, Long> members;
    private volatile Long epoch;  // written under the name's compute, read by passes
    private int peak;             // the most members since this set was made; under the compute

    /** A set of {@code few} and {@code m}. */
    MemberSet(RegistryMember[] few, RegistryMember m) {
        members = new ConcurrentHashMap<>(2 * Bindings.SMALL);
        epoch = 0L;
        for (RegistryMember f : few) {
            members.put(f, epoch);
        }
        add(m);
    }

    private MemberSet(MemberSet from) {
        members = new ConcurrentHashMap<>(from.members); // sized for what is left; stamps kept
        epoch = from.epoch;
        peak = members.size();
    }

    /** Adds {@code m}, stamped with the epoch now; no effect if it is a member. */
    void add(RegistryMember m) {
        members.putIfAbsent(m, epoch);
        peak = Math.max(peak, members.size());
    }

    /** Removes {@code m}, then moves the epoch on. @return true if it was a member */
    boolean remove(RegistryMember m) {
        if (members.remove(m) == null) {
            return false;
        }
        epoch = epoch + 1;
        return true;
    }

    int size() {
        return members.size();
    }

    /** A copy sized for the members now if they are down to a quarter of the peak, else null. */
    @Nullable MemberSet compacted() {
        return members.size() * 4 <= peak ? new MemberSet(this) : null;
    }

    /** The members now, as an array. */
    RegistryMember[] toArray() {
        return members.keySet().toArray(new RegistryMember[0]);
    }

    /** Gives {@code action} each member of this pass: see the class comment. */
    void forEach(Consumer<RegistryMember> action) {
        long start = epoch;
        members.forEach((m, joined) -> {
            if (joined <= start) {
                action.accept(m);
            }
        });
    }

    /** The members of a pass, as an iterator: see the class comment. */
    Iterator<RegistryMember> iterator() {
        long start = epoch;
        Iterator<Map.Entry<RegistryMember, Long>> entries = members.entrySet().iterator();
        return new Iterator<>() {
            private @Nullable RegistryMember next = advance();

            private @Nullable RegistryMember advance() {
                while (entries.hasNext()) {
                    Map.Entry<RegistryMember, Long> e = entries.next();
                    if (e.getValue() <= start) {
                        return e.getKey();
                    }
                }
                return null;
            }

            @Override
            public boolean hasNext() {
                return next != null;
            }

            @Override
            public RegistryMember next() {
                RegistryMember m = next;
                if (m == null) {
                    throw new NoSuchElementException();
                }
                next = advance();
                return m;
            }
        };
    }
}
