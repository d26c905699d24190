package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.QueueSender;
import io.stcp.Sender;
import io.stcp.testing.SocketPair;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/**
 * {@link RealConnectionRegistry#bindUserExclusively} on its own: members added and removed as a
 * server would, on real socket pairs with no send loop.
 */
class ExclusiveBindTest {
    private final RealConnectionRegistry registry = new RealConnectionRegistry();
    private final List<SocketPair> pairs = new ArrayList<>();

    @AfterEach
    void closePairs() throws Exception {
        for (SocketPair p : pairs) {
            p.close();
        }
    }

    private Sender sender() throws Exception {
        SocketPair p = SocketPair.open();
        pairs.add(p);
        return QueueSender.options().capacity(8).build(p.server);
    }

    private Sender member() throws Exception {
        Sender s = sender();
        registry.add(s);
        return s;
    }

    @Test
    void bindsTheConnectionAndUnbindsTheUsersOthersReturningThemAndLeavesTheirGroups() throws Exception {
        List<Sender> phones = new ArrayList<>();
        for (int i = 0; i < 12; i++) { // more than an array holds: the user's members are a set
            Sender s = member();
            assertThat(registry.bindUser(s, "alice")).isTrue();
            assertThat(registry.joinGroup(s, "room")).isTrue();
            phones.add(s);
        }
        Sender bob = member();
        registry.bindUser(bob, "bob");
        Sender login = member();
        registry.bindUser(login, "carol");

        assertThat(registry.bindUserExclusively(login, "alice")).containsExactlyInAnyOrderElementsOf(phones);

        assertThat(registry.user("alice")).containsExactly(login);
        assertThat(registry.userOf(login)).isEqualTo("alice");
        assertThat(registry.users()).containsExactlyInAnyOrder("alice", "bob"); // carol, left, is gone
        for (Sender s : phones) {
            assertThat(registry.userOf(s)).isNull();
            assertThat(registry.groupsOf(s)).containsExactly("room"); // still open, still in its groups
        }
        assertThat(registry.user("bob")).containsExactly(bob);
        assertThat(registry.bindUserExclusively(login, "alice")).isEmpty(); // again: nobody else to unbind
        assertThat(registry.user("alice")).containsExactly(login);
    }

    @Test
    void aConnectionNotRegisteredBindsNothingAndUnbindsNobody() throws Exception {
        Sender alice = member();
        registry.bindUser(alice, "alice");
        Sender outsider = sender();
        Collection<Sender> none = registry.bindUserExclusively(outsider, "alice");
        assertThat(none).isEmpty();
        none.add(outsider); // "a new list: the caller's", refused bind or not

        Sender exited = member();
        registry.remove(exited.connection().id());
        assertThat(registry.bindUserExclusively(exited, "alice")).isEmpty();

        assertThat(registry.user("alice")).containsExactly(alice);
        assertThat(registry.userOf(exited)).isNull();
    }

    @Test
    void aBoundConnectionThatExitsIsUnboundByTheExitAndNotReturnedAgain() throws Exception {
        Sender old = member();
        registry.bindUser(old, "alice");
        registry.remove(old.connection().id());
        Sender login = member();
        assertThat(registry.bindUserExclusively(login, "alice")).isEmpty();
        assertThat(registry.user("alice")).containsExactly(login);
        registry.remove(login.connection().id());
        assertThat(registry.users()).isEmpty();
    }

    /**
     * Logins of one name on many threads at once, each connection logging in again and again, while
     * some connections exit: once they are done, exactly one live connection is bound, and each
     * side of every binding agrees with the other; and as one connection at most is bound at any
     * time, each login unbinds one connection at most.
     */
    @RepeatedTest(5)
    void concurrentExclusiveLoginsLeaveExactlyOneBoundAndEachUnboundOneReturnedOnce() throws Exception {
        int threads = 6;
        int rounds = 200;
        List<Sender> logins = new ArrayList<>();
        for (int i = 0; i < threads * 2; i++) {
            logins.add(member());
        }
        Sender leaving = member();
        registry.bindUser(leaving, "alice");
        ConcurrentLinkedQueue<Collection<Sender>> unbound = new ConcurrentLinkedQueue<>();
        CyclicBarrier go = new CyclicBarrier(threads + 1);
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            List<Sender> mine = logins.subList(2 * t, 2 * t + 2); // two connections of the name per thread
            workers.add(Thread.ofPlatform().start(() -> {
                try {
                    go.await(10, TimeUnit.SECONDS);
                    for (int r = 0; r < rounds; r++) {
                        unbound.add(registry.bindUserExclusively(mine.get(r & 1), "alice"));
                    }
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }));
        }
        go.await(10, TimeUnit.SECONDS);
        registry.remove(leaving.connection().id()); // an exit amid the logins
        for (Thread w : workers) {
            w.join(TimeUnit.SECONDS.toMillis(30));
            assertThat(w.isAlive()).isFalse();
        }

        assertThat(registry.user("alice")).hasSize(1);
        Sender winner = registry.user("alice").iterator().next();
        for (Sender s : logins) {
            assertThat(registry.userOf(s)).as("connection %d", s.connection().id()).isEqualTo(s == winner ? "alice" : null);
        }
        assertThat(unbound).hasSize(threads * rounds).allSatisfy(u -> assertThat(u).hasSizeLessThanOrEqualTo(1));
        assertThat(unbound.stream().flatMap(Collection::stream).filter(s -> s == leaving)).hasSizeLessThanOrEqualTo(1);
        assertThat(registry.userOf(leaving)).isNull();
    }

    /**
     * A plain bind of the name racing two exclusive ones, released together round after round, on
     * members of every stripe: the plain bind is not exclusive (the javadoc), so it may end bound
     * beside the last exclusive one — but only as if it came after it. Whatever the interleaving,
     * the end state and what each exclusive bind returned are those of the three calls made one
     * after another in some order, and each side of every binding agrees with the other.
     */
    @Test
    void aPlainBindRacingExclusiveOnesEndsAsTheThreeInSomeOrder() throws Exception {
        List<Sender> pool = new ArrayList<>();
        for (int i = 0; i < 70; i++) { // more than the stripes: any two may share one, or not
            pool.add(member());
        }
        Random random = new Random(42);
        ExecutorService threads = Executors.newFixedThreadPool(3);
        try {
            for (int round = 0; round < 2_000; round++) {
                for (Sender s : pool) {
                    registry.unbindUser(s);
                }
                Collections.shuffle(pool, random);
                Sender x1 = pool.get(0);
                Sender x2 = pool.get(1);
                Sender plain = pool.get(2);
                Sender old = pool.get(3);
                registry.bindUser(old, "alice");
                registry.bindUser(plain, "bob");
                CyclicBarrier go = new CyclicBarrier(3);
                Future<Boolean> p = threads.submit(() -> await(go) && registry.bindUser(plain, "alice"));
                Future<Collection<Sender>> e1 = threads.submit(() -> await(go) ? registry.bindUserExclusively(x1, "alice") : null);
                Future<Collection<Sender>> e2 = threads.submit(() -> await(go) ? registry.bindUserExclusively(x2, "alice") : null);
                assertThat(p.get(10, TimeUnit.SECONDS)).isTrue();
                Set<Sender> unbound1 = Set.copyOf(e1.get(10, TimeUnit.SECONDS));
                Set<Sender> unbound2 = Set.copyOf(e2.get(10, TimeUnit.SECONDS));

                Set<Sender> bound = Set.copyOf(registry.user("alice"));
                int r = round;
                assertThat(pool.stream().filter(s -> "alice".equals(registry.userOf(s))))
                        .as("round %d: both sides of the bindings", r).containsExactlyInAnyOrderElementsOf(bound);
                assertThat(inSomeOrder(List.of(x1, x2, plain), old, bound, unbound1, unbound2))
                        .as("round %d: bound %s, unbound %s and %s", r, ids(bound), ids(unbound1), ids(unbound2))
                        .isTrue();
            }
        } finally {
            threads.shutdownNow();
        }
    }

    private static boolean await(CyclicBarrier go) throws Exception {
        go.await(10, TimeUnit.SECONDS);
        return true;
    }

    /**
     * Whether exclusive binds of {@code calls.get(0)} and {@code .get(1)} and a plain bind of
     * {@code .get(2)}, one after another in some order from {@code old} alone bound, end with
     * {@code bound}, the exclusive ones returning {@code unbound1} and {@code unbound2}.
     */
    private static boolean inSomeOrder(List<Sender> calls, Sender old, Set<Sender> bound, Set<Sender> unbound1,
                                       Set<Sender> unbound2) {
        int[][] orders = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
        for (int[] order : orders) {
            Set<Sender> state = new HashSet<>(Set.of(old));
            List<Set<Sender>> returned = new ArrayList<>(List.of(Set.of(), Set.of()));
            for (int i : order) {
                Sender s = calls.get(i);
                if (i == 2) {
                    state.add(s);
                } else {
                    state.remove(s);
                    returned.set(i, state);
                    state = new HashSet<>(Set.of(s));
                }
            }
            if (state.equals(bound) && returned.get(0).equals(unbound1) && returned.get(1).equals(unbound2)) {
                return true;
            }
        }
        return false;
    }

    private static List<Long> ids(Collection<Sender> senders) {
        return senders.stream().map(s -> s.connection().id()).toList();
    }
}
