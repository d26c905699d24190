package io.stcp.internal;

import io.stcp.Sender;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * A connection registered in a {@link RealConnectionRegistry}, with its own side of its bindings:
 * its user and its groups.
 *
 * <p>{@link #user}, {@link #groups} and {@link #removed} are written only under the member's
 * stripe lock in the registry, as are the registry's maps of names, so the two sides agree once
 * the lock is released. {@link #user} and {@link #groups} are volatile for the lookups, which
 * take no lock; {@link #groups} is copied on every change, never changed once published.
 */
final class RegistryMember {
    static final String[] NO_GROUPS = {};

    final long id;
    final Sender sender;
    volatile @Nullable String user;        // written under the stripe lock
    volatile String[] groups = NO_GROUPS;  // replaced (copy on write) under the stripe lock
    boolean removed;                       // guarded by the stripe lock

    RegistryMember(long id, Sender sender) {
        this.id = id;
        this.sender = sender;
    }

    /** Where {@code group} is in {@link #groups}, or -1. */
    int groupIndex(String group) {
        String[] gs = groups;
        for (int i = 0; i < gs.length; i++) {
            if (gs[i].equals(group)) {
                return i;
            }
        }
        return -1;
    }

    /** Adds {@code group}, which it is not in; under the stripe lock. */
    void addGroup(String group) {
        String[] gs = groups;
        String[] more = Arrays.copyOf(gs, gs.length + 1);
        more[gs.length] = group;
        groups = more;
    }

    /** Removes the group at {@code index} ({@link #groupIndex}); under the stripe lock. */
    void removeGroup(int index) {
        String[] gs = groups;
        String[] fewer = new String[gs.length - 1];
        System.arraycopy(gs, 0, fewer, 0, index);
        System.arraycopy(gs, index + 1, fewer, index, gs.length - index - 1);
        groups = fewer.length == 0 ? NO_GROUPS : fewer;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(id);
    }

    // identity equals: one member per registration
}
