package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.QueueSender;
import io.stcp.Sender;
import io.stcp.testing.SocketPair;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
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
}
