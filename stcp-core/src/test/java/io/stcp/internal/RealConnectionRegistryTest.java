package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.OverflowPolicy;
import io.stcp.QueueSender;
import io.stcp.SendResult;
import io.stcp.Sender;
import io.stcp.testing.SocketPair;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/**
 * The registry on its own: members added and removed as a server would, senders with no send loop
 * running, so a queue holds exactly what was put into it and fullness is deterministic.
 */
class RealConnectionRegistryTest {
    private final RealConnectionRegistry registry = new RealConnectionRegistry();
    private final List<SocketPair> pairs = new ArrayList<>();

    @AfterEach
    void closePairs() throws Exception {
        for (SocketPair p : pairs) {
            p.close();
        }
    }

    private QueueSender sender(QueueSender.Options options) throws Exception {
        SocketPair p = SocketPair.open();
        pairs.add(p);
        return io.stcp.QueueSenderTesting.holdWrites(options.build(p.server)); // nothing is written: queues fill
    }

    private QueueSender member(QueueSender.Options options) throws Exception {
        QueueSender s = sender(options);
        registry.add(s);
        return s;
    }

    private static long id(Sender s) {
        return s.connection().id();
    }

    @Test
    void sendsCountAcceptedFullAndClosedRecipientsWithoutThrowing() throws Exception {
        QueueSender ok = member(QueueSender.options().capacity(8));
        QueueSender full = member(QueueSender.options().capacity(1));
        QueueSender closed = member(QueueSender.options().capacity(8));
        QueueSender outsider = sender(QueueSender.options().capacity(8)); // never registered
        for (Sender s : List.of(ok, full, closed)) {
            assertThat(registry.joinGroup(s, "room")).isTrue();
        }
        assertThat(registry.joinGroup(outsider, "room")).isFalse();
        full.put(new byte[] {0});
        closed.close();

        byte[] message = {1, 2, 3};
        SendResult r = registry.sendToGroup("room", message);

        assertThat(r).isEqualTo(new SendResult(1, 1, 1, 0, 0));
        assertThat(r.refused()).isEqualTo(2);
        assertThat(r.recipients()).isEqualTo(3);
        assertThat(ok.stats().pendingMessages()).isEqualTo(1);
        assertThat(outsider.stats().pendingMessages()).isZero();
        assertThat(registry.sendToGroup("nobody", message)).isEqualTo(SendResult.NONE);
        assertThat(registry.broadcast(message)).isEqualTo(new SendResult(1, 1, 1, 0, 0));
        assertThat(registry.sendTo(id(ok), message)).isEqualTo(new SendResult(1, 0, 0, 0, 0));
        assertThat(registry.sendTo(id(outsider), message)).isEqualTo(SendResult.NONE);
    }

    /** A null argument is refused naming it, as the bind methods name theirs. */
    @Test
    void aNullUserOrGroupOrMessageIsRefusedNamingTheArgument() {
        byte[] m = {1};
        for (var send : List.<org.assertj.core.api.ThrowableAssert.ThrowingCallable>of(
                () -> registry.sendToUser(null, m), () -> registry.sendToUser(null, 1, m),
                () -> registry.sendToUser(null, "k", m))) {
            assertThatThrownBy(send).isInstanceOf(NullPointerException.class).hasMessage("userId");
        }
        for (var send : List.<org.assertj.core.api.ThrowableAssert.ThrowingCallable>of(
                () -> registry.sendToGroup(null, m), () -> registry.sendToGroup(null, 1, m),
                () -> registry.sendToGroup(null, "k", m))) {
            assertThatThrownBy(send).isInstanceOf(NullPointerException.class).hasMessage("group");
        }
        assertThatThrownBy(() -> registry.sendToGroup("g", null)).isInstanceOf(NullPointerException.class)
                .hasMessage("bytes");
        assertThatThrownBy(() -> registry.sendToUser("u", (String) null, m)).isInstanceOf(NullPointerException.class)
                .hasMessage("key");
    }

    /** A sender over {@code inner}'s connection whose every put throws {@code failure} (unchecked). */
    private static Sender throwing(QueueSender inner, Throwable failure) {
        return new Sender() {
            @Override
            public io.stcp.Connection connection() {
                return inner.connection();
            }

            @Override
            public void put(byte[] bytes) {
                if (failure instanceof Error e) {
                    throw e;
                }
                throw (RuntimeException) failure;
            }

            @Override
            public int close() {
                return inner.close();
            }

            @Override
            public boolean isClosed() {
                return inner.isClosed();
            }
        };
    }

    @Test
    void aSenderThatThrowsSomethingElseIsCountedAsFailedAndTheOthersStillGetTheMessage() throws Exception {
        QueueSender ok = member(QueueSender.options());
        QueueSender inner = sender(QueueSender.options());
        Sender broken = throwing(inner, new IllegalStateException("a bug in a custom sender"));
        registry.add(broken);
        assertThat(registry.broadcast(new byte[] {7})).isEqualTo(new SendResult(1, 0, 0, 1, 0));
        assertThat(ok.stats().pendingMessages()).isEqualTo(1);
    }

    @Test
    void aSenderThatThrowsAnErrorIsCountedAsFailedAndTheOthersStillGetTheMessage() throws Exception {
        QueueSender first = member(QueueSender.options());
        QueueSender inner = sender(QueueSender.options());
        Sender broken = throwing(inner, new AssertionError("an assertion in a custom sender"));
        registry.add(broken);
        QueueSender last = member(QueueSender.options());
        assertThat(registry.broadcast(new byte[] {7})).isEqualTo(new SendResult(2, 0, 0, 1, 0));
        assertThat(first.stats().pendingMessages()).isEqualTo(1);
        assertThat(last.stats().pendingMessages()).isEqualTo(1);
        assertThat(registry.sendTo(broken.connection().id(), new byte[] {8})).isEqualTo(new SendResult(0, 0, 0, 1, 0));
    }

    @Test
    void usersHaveManyConnectionsAndAConnectionOneUser() throws Exception {
        QueueSender phone = member(QueueSender.options());
        QueueSender desktop = member(QueueSender.options());
        QueueSender bob = member(QueueSender.options());
        assertThat(registry.bindUser(phone, "alice")).isTrue();
        assertThat(registry.bindUser(desktop, "alice")).isTrue();
        assertThat(registry.bindUser(bob, "alice")).isTrue();
        assertThat(registry.bindUser(bob, "bob")).isTrue(); // moves bob's connection from alice to bob

        assertThat(registry.user("alice")).containsExactlyInAnyOrder(phone, desktop);
        assertThat(registry.user("bob")).containsExactly(bob);
        assertThat(registry.userOf(bob)).isEqualTo("bob");
        assertThat(registry.users()).containsExactlyInAnyOrder("alice", "bob");
        assertThat(registry.sendToUser("alice", new byte[] {1}).accepted()).isEqualTo(2);
        assertThat(bob.stats().pendingMessages()).isZero();

        assertThat(registry.unbindUser(phone)).isTrue();
        assertThat(registry.unbindUser(phone)).isFalse();
        assertThat(registry.user("alice")).containsExactly(desktop);
        registry.remove(id(desktop));
        assertThat(registry.users()).containsExactly("bob");
        assertThat(registry.user("alice")).isEmpty();
        assertThat(registry.connections()).containsExactlyInAnyOrder(phone, bob);
        assertThat(registry.connection(id(bob))).isSameAs(bob);
        assertThat(registry.connection(id(desktop))).isNull();
    }

    @Test
    void groupsAreJoinedAndLeftAndVanishWithTheirLastMember() throws Exception {
        QueueSender a = member(QueueSender.options());
        QueueSender b = member(QueueSender.options());
        assertThat(registry.joinGroup(a, "x")).isTrue();
        assertThat(registry.joinGroup(a, "x")).isFalse();
        assertThat(registry.joinGroup(a, "y")).isTrue();
        assertThat(registry.joinGroup(b, "x")).isTrue();
        assertThat(registry.groupsOf(a)).containsExactlyInAnyOrder("x", "y");
        assertThat(registry.group("x")).containsExactlyInAnyOrder(a, b).hasSize(2);
        assertThat(registry.groups()).containsExactlyInAnyOrder("x", "y");

        assertThat(registry.leaveGroup(a, "x")).isTrue();
        assertThat(registry.leaveGroup(a, "x")).isFalse();
        assertThat(registry.groupsOf(a)).containsExactly("y");
        assertThat(registry.leaveGroup(a, "y")).isTrue();
        assertThat(registry.groups()).containsExactly("x");
        assertThat(registry.leaveGroup(b, "x")).isTrue();
        assertThat(registry.groups()).isEmpty();
        assertThat(registry.group("x")).isEmpty();
    }

    /** A name holds one member, then an array of a few, then a set, and shrinks back: every step looks the same from outside. */
    @Test
    void aGroupGrowsFromOneMemberToManyAndShrinksBackReachingExactlyItsMembers() throws Exception {
        List<QueueSender> all = new ArrayList<>();
        for (int i = 0; i < 3 * Bindings.SMALL; i++) {
            all.add(member(QueueSender.options().capacity(1).overflow(OverflowPolicy.DROP_OLDEST)));
        }
        List<QueueSender> in = new ArrayList<>();
        for (QueueSender s : all) {
            assertThat(registry.joinGroup(s, "g")).isTrue();
            in.add(s);
            assertGroupIs(in);
        }
        for (QueueSender s : List.copyOf(all)) {
            assertThat(registry.leaveGroup(s, "g")).isTrue();
            in.remove(s);
            assertGroupIs(in);
        }
        assertThat(registry.groups()).isEmpty();
    }

    private void assertGroupIs(List<QueueSender> members) {
        assertThat(registry.group("g")).containsExactlyInAnyOrderElementsOf(members).hasSize(members.size());
        assertThat(registry.sendToGroup("g", new byte[] {1}).accepted()).isEqualTo(members.size());
        if (!members.isEmpty()) {
            assertThat(registry.groups()).containsExactly("g");
        }
    }

    /**
     * A sender with no queue that counts the messages put into it, each by its array's identity,
     * and can be told what to do on the sending thread when a message arrives.
     */
    private static final class Counting implements Sender {
        private final io.stcp.Connection connection;
        private final java.util.Map<byte[], java.util.concurrent.atomic.AtomicInteger> counts =
                new java.util.concurrent.ConcurrentHashMap<>(); // byte[]: identity keys
        volatile Runnable onPut = () -> {};

        Counting(io.stcp.Connection connection) {
            this.connection = connection;
        }

        @Override
        public io.stcp.Connection connection() {
            return connection;
        }

        @Override
        public void put(byte[] bytes) {
            counts.computeIfAbsent(bytes, b -> new java.util.concurrent.atomic.AtomicInteger()).incrementAndGet();
            onPut.run();
        }

        int count(byte[] message) {
            var n = counts.get(message);
            return n == null ? 0 : n.get();
        }

        int mostOfOneMessage() {
            return counts.values().stream().mapToInt(java.util.concurrent.atomic.AtomicInteger::get).max().orElse(0);
        }

        @Override
        public int close() {
            return 0;
        }

        @Override
        public boolean isClosed() {
            return false;
        }
    }

    /** The bin of {@code s}'s member in a ConcurrentHashMap table of {@code slots} (its spread of the hash code). */
    private static int bin(Sender s, int slots) {
        int h = Long.hashCode(id(s));
        return (h ^ (h >>> 16)) & (slots - 1);
    }

    /**
     * Twelve registered members joined to group "g" (held in a set: more than {@link Bindings#SMALL}),
     * the first two of them in one bin of the set's table. The bin matters to the old traversal,
     * which reached a member again only when its re-added node went to the end of a bin the
     * traversal had not finished: ids are picked from a pool of 33 connections so that the first
     * member has one joined after it in its bin (32 bins, as long as the set holds 23 or fewer),
     * and each of the others a bin of its own.
     */
    private List<Counting> collidingGroup() throws Exception {
        List<Counting> pool = new ArrayList<>();
        for (int i = 0; i < 33; i++) {
            SocketPair p = SocketPair.open();
            pairs.add(p);
            pool.add(new Counting(p.server));
        }
        Counting first = null;
        Counting second = null;
        for (int i = 0; i < pool.size() && second == null; i++) {
            for (int j = i + 1; j < pool.size() && second == null; j++) {
                if (bin(pool.get(i), 32) == bin(pool.get(j), 32)) {
                    first = pool.get(i);
                    second = pool.get(j);
                }
            }
        }
        assertThat(second).as("33 ids in 32 bins: two share one").isNotNull();
        List<Counting> group = new ArrayList<>(List.of(first, second));
        java.util.Set<Integer> bins = new java.util.HashSet<>(List.of(bin(first, 32)));
        for (Counting c : pool) {
            if (group.size() < 12 && bins.add(bin(c, 32))) {
                group.add(c);
            }
        }
        assertThat(group).hasSize(12);
        for (Counting c : group) {
            registry.add(c);
            assertThat(registry.joinGroup(c, "g")).isTrue();
        }
        return group;
    }

    /**
     * At most one delivery per member and send, even to a member that leaves the group and joins
     * it again while the send runs: here each member does so, on the sending thread, when the
     * message reaches it. The old code met such a member's new entry later in the same send.
     */
    @Test
    void aMemberThatLeavesAndRejoinsDuringASendToALargeGroupGetsTheMessageOnce() throws Exception {
        List<Counting> group = collidingGroup();
        byte[] message = {1};
        for (Counting c : group) {
            c.onPut = () -> {
                if (c.count(message) == 1) {
                    assertThat(registry.leaveGroup(c, "g")).isTrue();
                    assertThat(registry.joinGroup(c, "g")).isTrue();
                }
            };
        }

        SendResult r = registry.sendToGroup("g", message);

        for (Counting c : group) {
            assertThat(c.count(message)).as("deliveries to connection %d", id(c)).isEqualTo(1);
        }
        assertThat(r.accepted()).isEqualTo(group.size());
        assertThat(registry.group("g")).containsExactlyInAnyOrderElementsOf(group);
    }

    /** The same for an iteration of the group's view: each member is met once. */
    @Test
    void anIterationOfALargeGroupMeetsAMemberThatLeavesAndRejoinsMeanwhileOnce() throws Exception {
        List<Counting> group = collidingGroup();
        java.util.Map<Sender, Integer> met = new java.util.HashMap<>();
        for (Sender s : registry.group("g")) {
            if (met.merge(s, 1, Integer::sum) == 1) {
                registry.leaveGroup(s, "g");
                registry.joinGroup(s, "g");
            }
        }
        assertThat(met.keySet()).containsExactlyInAnyOrderElementsOf(group);
        assertThat(met.values()).containsOnly(1);
    }

    /**
     * Sends from several threads at once while members leave and rejoin from others: no send
     * reaches a member twice, and a member that stays in the group throughout gets every send.
     */
    @Test
    void concurrentSendsAndRejoinsDeliverEachSendAtMostOncePerMember() throws Exception {
        List<Counting> group = collidingGroup();
        Counting stayer = group.get(group.size() - 1); // never leaves
        List<Counting> churned = group.subList(0, group.size() - 1);
        int sendsPerThread = 5_000;
        List<List<byte[]>> sent = new ArrayList<>();
        java.util.concurrent.atomic.AtomicBoolean sending = new java.util.concurrent.atomic.AtomicBoolean(true);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> senders = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            List<byte[]> mine = new ArrayList<>();
            sent.add(mine);
            senders.add(Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < sendsPerThread; i++) {
                        byte[] message = {(byte) i};
                        mine.add(message);
                        registry.sendToGroup("g", message);
                    }
                } catch (Throwable e) {
                    failure.set(e);
                }
            }));
        }
        Thread churner = Thread.ofPlatform().start(() -> {
            try {
                for (int i = 0; sending.get(); i++) {
                    Counting c = churned.get(i % churned.size());
                    registry.leaveGroup(c, "g");
                    registry.joinGroup(c, "g");
                }
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        for (Thread t : senders) {
            t.join(TimeUnit.SECONDS.toMillis(30));
            assertThat(t.isAlive()).isFalse();
        }
        sending.set(false);
        churner.join(TimeUnit.SECONDS.toMillis(10));
        assertThat(churner.isAlive()).isFalse();
        assertThat(failure.get()).isNull();

        for (Counting c : group) {
            assertThat(c.mostOfOneMessage()).as("most deliveries of one send to connection %d", id(c)).isLessThanOrEqualTo(1);
        }
        for (List<byte[]> mine : sent) {
            for (byte[] message : mine) {
                assertThat(stayer.count(message)).isEqualTo(1);
            }
        }
    }

    /**
     * A set that shrinks to a quarter of its peak is replaced by a copy sized for what is left (a
     * map's table never shrinks): the same members, reached by sends as before.
     */
    @Test
    void aLargeGroupThatShrinksToAQuarterOfItsPeakMovesToASmallerSet() throws Exception {
        List<QueueSender> all = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            QueueSender s = member(QueueSender.options().capacity(1).overflow(OverflowPolicy.DROP_OLDEST));
            registry.joinGroup(s, "g");
            all.add(s);
        }
        Bindings groups = bindingsOf(registry, "groups");
        Object peak = groups.get("g");
        assertThat(peak).isNotInstanceOf(RegistryMember[].class); // a set
        for (int i = 63; i > 16; i--) { // 17 left: above a quarter of 64
            registry.leaveGroup(all.remove(i), "g");
        }
        assertThat(groups.get("g")).isSameAs(peak);
        registry.leaveGroup(all.remove(16), "g"); // 16: a quarter
        Object smaller = groups.get("g");
        assertThat(smaller).isNotSameAs(peak).isNotInstanceOf(RegistryMember[].class);
        assertGroupIs(List.copyOf(all));
        registry.joinGroup(all.get(0), "g"); // already in: no change
        assertThat(groups.get("g")).isSameAs(smaller);
    }

    private static Bindings bindingsOf(RealConnectionRegistry registry, String field) throws Exception {
        java.lang.reflect.Field f = RealConnectionRegistry.class.getDeclaredField(field);
        f.setAccessible(true);
        return (Bindings) f.get(registry);
    }

    @Test
    void keyedSendsConflatePerConnectionAndShareOneArray() throws Exception {
        QueueSender a = member(QueueSender.options().conflating(true));
        QueueSender b = member(QueueSender.options().conflating(true));
        registry.joinGroup(a, "quotes");
        registry.joinGroup(b, "quotes");
        b.put("IBM", new byte[] {0}); // b already holds an older IBM quote
        byte[] first = {1};
        byte[] latest = {2};
        assertThat(registry.sendToGroup("quotes", "IBM", first).accepted()).isEqualTo(2);
        assertThat(registry.sendToGroup("quotes", "IBM", latest).accepted()).isEqualTo(2);
        assertThat(registry.sendToGroup("quotes", 7, latest).accepted()).isEqualTo(2); // int keys: their own space
        registry.sendTo(id(a), "IBM", latest);

        assertThat(a.stats().pendingMessages()).isEqualTo(2); // "IBM" and 7
        assertThat(b.stats().pendingMessages()).isEqualTo(2);
        assertThat(a.stats().conflated()).isEqualTo(2);
        assertThat(b.stats().conflated()).isEqualTo(2);
        // what each queue holds is the caller's array itself, not a copy
        assertThat(drain(a)).containsExactly(latest, latest);
        assertThat(drain(b)).containsExactly(latest, latest);
    }

    /** What the send loop would take next from {@code s}'s queue, without writing it. */
    private static List<byte[]> drain(QueueSender s) throws Exception {
        java.lang.reflect.Field f = QueueSender.class.getDeclaredField("queue");
        f.setAccessible(true);
        SendQueue q = (SendQueue) f.get(s);
        Object[] out = new Object[16];
        int n = q.drain(out, Long.MAX_VALUE, 1024);
        List<byte[]> taken = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            taken.add((byte[]) out[i]);
        }
        return taken;
    }

    @Test
    void aFanoutServesRecipientsWithRoomFirstAndWaitsForBlockedOnesTogetherNotOneAfterAnother() throws Exception {
        Duration block = Duration.ofSeconds(1);
        List<QueueSender> blocked = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            QueueSender s = member(QueueSender.options().capacity(1).overflow(OverflowPolicy.BLOCK).blockTimeout(block));
            s.put(new byte[] {0});
            blocked.add(s);
        }
        QueueSender free = member(QueueSender.options());

        long start = System.nanoTime();
        SendResult r = registry.broadcast(new byte[] {1});
        long elapsed = System.nanoTime() - start;

        assertThat(r).isEqualTo(new SendResult(1, 4, 0, 0, 0));
        assertThat(free.stats().pendingMessages()).isEqualTo(1);
        // Each blocked recipient waited its second, all in the same window: one after another would be 4 s.
        assertThat(elapsed).isGreaterThanOrEqualTo(block.toNanos());
        assertThat(Duration.ofNanos(elapsed)).isLessThan(Duration.ofMillis(2_500));
    }

    @Test
    void aRecipientWithRoomHasTheMessageWhileTheFanoutStillWaitsForABlockedOne() throws Exception {
        QueueSender blocked = member(QueueSender.options().capacity(1).overflow(OverflowPolicy.BLOCK)
                .blockTimeout(Duration.ofSeconds(60)));
        blocked.put(new byte[] {0});
        QueueSender free = member(QueueSender.options());
        AtomicReference<SendResult> result = new AtomicReference<>();
        Thread fanout = Thread.ofVirtual().start(() -> result.set(registry.broadcast(new byte[] {1})));

        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> free.stats().pendingMessages() == 1);
        assertThat(fanout.isAlive()).as("still waiting for room in the blocked queue").isTrue();
        blocked.close(); // wakes the waiting put: the recipient is now closed
        fanout.join(Duration.ofSeconds(10));
        assertThat(fanout.isAlive()).isFalse();
        assertThat(result.get()).isEqualTo(new SendResult(1, 0, 1, 0, 0));
    }

    /** A member that blocks for {@code block} and holds one message already, so its queue is full. */
    private QueueSender fullBlocking(Duration block) throws Exception {
        QueueSender s = member(QueueSender.options().capacity(1).overflow(OverflowPolicy.BLOCK).blockTimeout(block));
        s.put(new byte[] {0});
        return s;
    }

    /** Runs {@code sends} on a thread of its own; returns once it waits (in a fan-out, for room). */
    private static Thread waitingIn(Runnable sends) {
        Thread t = Thread.ofVirtual().start(sends);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> t.getState() == Thread.State.TIMED_WAITING);
        return t;
    }

    /** Reads {@code n} bytes the peer of {@code s}'s connection was sent, within 5 s. */
    private byte[] clientReads(QueueSender s, int n) throws Exception {
        SocketPair p = pairs.stream().filter(x -> x.server == s.connection()).findFirst().orElseThrow();
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(n);
        p.client.configureBlocking(false);
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> p.client.read(b) >= 0 && !b.hasRemaining());
        return b.array();
    }

    @Test
    void aRecipientWhoseRoomComesWhileAnEarlierOneStillWaitsHasTheMessageAtOnce() throws Exception {
        QueueSender first = fullBlocking(Duration.ofSeconds(30));
        QueueSender second = fullBlocking(Duration.ofSeconds(30));
        registry.joinGroup(first, "g"); // the fan-out comes to the members in this order
        registry.joinGroup(second, "g");
        AtomicReference<SendResult> result = new AtomicReference<>();
        Thread fanout = waitingIn(() -> result.set(registry.sendToGroup("g", new byte[] {1})));
        try {
            io.stcp.QueueSenderTesting.resumeWrites(second); // its send thread writes, making room
            // over the socket, while the first still waits: one after another, it would be 30 s
            assertThat(clientReads(second, 2)).containsExactly(0, 1);
            assertThat(fanout.isAlive()).as("still waiting for the first").isTrue();
            assertThat(first.stats().pendingMessages()).isEqualTo(1);

            io.stcp.QueueSenderTesting.resumeWrites(first);
            fanout.join(Duration.ofSeconds(10));
            assertThat(fanout.isAlive()).isFalse();
            assertThat(result.get()).isEqualTo(new SendResult(2, 0, 0, 0, 0));
            assertThat(clientReads(first, 2)).containsExactly(0, 1);
        } finally {
            first.close();
            second.close();
            fanout.join(Duration.ofSeconds(10));
        }
    }

    @Test
    void aLaterFanoutNeverOvertakesAnEarlierOneAtARecipient() throws Exception {
        QueueSender first = fullBlocking(Duration.ofSeconds(30));
        QueueSender second = fullBlocking(Duration.ofSeconds(30));
        registry.joinGroup(first, "g");
        registry.joinGroup(second, "g");
        List<SendResult> results = java.util.Collections.synchronizedList(new ArrayList<>());
        Thread sends = waitingIn(() -> {
            results.add(registry.sendToGroup("g", new byte[] {1}));
            results.add(registry.sendToGroup("g", new byte[] {2}));
        });
        try {
            assertThat(drain(second)).containsExactly(new byte[] {0}); // room: 1 comes in
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> second.stats().pendingMessages() == 1);
            assertThat(drain(second)).containsExactly(new byte[] {1}); // room again, but 2 is not sent yet:
            assertThat(results).isEmpty(); // the first fan-out still waits for the first member
            assertThat(second.stats().pendingMessages()).isZero();

            assertThat(drain(first)).containsExactly(new byte[] {0});
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> results.size() == 1);
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> second.stats().pendingMessages() == 1);
            assertThat(drain(first)).containsExactly(new byte[] {1});
            sends.join(Duration.ofSeconds(10));
            assertThat(results).containsExactly(new SendResult(2, 0, 0, 0, 0), new SendResult(2, 0, 0, 0, 0));
            assertThat(drain(first)).containsExactly(new byte[] {2});
            assertThat(drain(second)).containsExactly(new byte[] {2});
        } finally {
            first.close();
            second.close();
            sends.join(Duration.ofSeconds(10));
        }
    }

    @Test
    void eachWaitingRecipientIsRefusedAtItsOwnLimitWhileALaterLimitStillRuns() throws Exception {
        QueueSender patient = fullBlocking(Duration.ofSeconds(30));
        QueueSender hasty = fullBlocking(Duration.ofMillis(150));
        registry.joinGroup(patient, "g"); // the longer wait first: in turn, the hasty one would wait 30 s
        registry.joinGroup(hasty, "g");
        AtomicReference<SendResult> result = new AtomicReference<>();
        long start = System.nanoTime();
        Thread fanout = waitingIn(() -> result.set(registry.sendToGroup("g", new byte[] {1})));
        try {
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> hasty.stats().rejected() == 1);
            assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(Duration.ofMillis(150).toNanos());
            assertThat(fanout.isAlive()).as("still waiting for the patient one").isTrue();
            assertThat(drain(hasty)).containsExactly(new byte[] {0}); // room after its limit: not taken
            assertThat(drain(patient)).containsExactly(new byte[] {0});
            fanout.join(Duration.ofSeconds(10));
            assertThat(result.get()).isEqualTo(new SendResult(1, 1, 0, 0, 0));
            assertThat(hasty.stats().pendingMessages()).isZero();
        } finally {
            patient.close();
            hasty.close();
            fanout.join(Duration.ofSeconds(10));
        }
    }

    @Test
    void fanoutsWaitingAtOneRecipientAreToldOneAfterAnotherWhileItHasRoom() throws Exception {
        QueueSender s = member(QueueSender.options().capacity(2).overflow(OverflowPolicy.BLOCK)
                .blockTimeout(Duration.ofSeconds(30)));
        s.put(new byte[] {0});
        s.put(new byte[] {0});
        registry.joinGroup(s, "g");
        AtomicReference<SendResult> first = new AtomicReference<>();
        AtomicReference<SendResult> second = new AtomicReference<>();
        Thread one = waitingIn(() -> first.set(registry.sendToGroup("g", new byte[] {1})));
        Thread two = waitingIn(() -> second.set(registry.sendToGroup("g", new byte[] {2})));
        try {
            assertThat(queue(s).roomWatchers()).containsExactly(one, two);
            assertThat(drain(s)).hasSize(2); // one room event, room for both: the first told passes it on
            one.join(Duration.ofSeconds(5));
            two.join(Duration.ofSeconds(5));
            assertThat(first.get()).isEqualTo(new SendResult(1, 0, 0, 0, 0));
            assertThat(second.get()).isEqualTo(new SendResult(1, 0, 0, 0, 0));
            assertThat(drain(s)).containsExactlyInAnyOrder(new byte[] {1}, new byte[] {2});
        } finally {
            s.close();
            one.join(Duration.ofSeconds(10));
            two.join(Duration.ofSeconds(10));
        }
    }

    @Test
    void aWaitingFanoutWhoseMessageStillDoesNotFitPassesTheRoomOnToOneWhoseMessageDoes() throws Exception {
        QueueSender s = member(QueueSender.options().capacity(8).maxBytes(10).overflow(OverflowPolicy.BLOCK)
                .blockTimeout(Duration.ofSeconds(30)));
        s.put(new byte[3]);
        s.put(new byte[6]); // 9 of 10 bytes
        registry.joinGroup(s, "g");
        AtomicReference<SendResult> large = new AtomicReference<>();
        AtomicReference<SendResult> small = new AtomicReference<>();
        Thread one = waitingIn(() -> large.set(registry.sendToGroup("g", new byte[8])));
        Thread two = waitingIn(() -> small.set(registry.sendToGroup("g", new byte[2])));
        try {
            assertThat(queue(s).roomWatchers()).containsExactly(one, two);
            queue(s).drain(new Object[1], Long.MAX_VALUE, 1); // the 3 bytes: room for 4, told to the first
            two.join(Duration.ofSeconds(5));
            assertThat(small.get()).isEqualTo(new SendResult(1, 0, 0, 0, 0));
            assertThat(one.isAlive()).as("8 bytes still do not fit").isTrue();
            assertThat(queue(s).roomWatchers()).containsExactly(one);
        } finally {
            s.close();
            one.join(Duration.ofSeconds(10));
            two.join(Duration.ofSeconds(10));
        }
        assertThat(large.get()).isEqualTo(new SendResult(0, 0, 1, 0, 0));
    }

    @Test
    void aFanoutInterruptedWhileItWaitsHasTheRecipientsWithoutRoomRefuseAndStaysInterrupted() throws Exception {
        QueueSender one = fullBlocking(Duration.ofSeconds(30));
        QueueSender other = fullBlocking(Duration.ofSeconds(30));
        registry.joinGroup(one, "g");
        registry.joinGroup(other, "g");
        AtomicReference<SendResult> result = new AtomicReference<>();
        java.util.concurrent.atomic.AtomicBoolean stillInterrupted = new java.util.concurrent.atomic.AtomicBoolean();
        Thread fanout = waitingIn(() -> {
            result.set(registry.sendToGroup("g", new byte[] {1}));
            stillInterrupted.set(Thread.currentThread().isInterrupted());
        });
        try {
            fanout.interrupt();
            fanout.join(Duration.ofSeconds(10));
            assertThat(fanout.isAlive()).isFalse();
            assertThat(result.get()).isEqualTo(new SendResult(0, 2, 0, 0, 0));
            assertThat(stillInterrupted).isTrue();
            assertThat(one.stats().rejected() + other.stats().rejected()).isEqualTo(2);
        } finally {
            one.close();
            other.close();
        }
    }

    @Test
    void manyFanoutsToManyBlockedRecipientsWaitOnTheirOwnThreadsAndLeaveNothingRegistered() throws Exception {
        int recipients = 64;
        int callers = 4;
        List<SendQueue> queues = new ArrayList<>();
        for (int i = 0; i < recipients; i++) {
            QueueSender s = fullBlocking(Duration.ofMillis(30));
            registry.joinGroup(s, "g");
            queues.add(queue(s));
        }
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        java.util.concurrent.atomic.AtomicInteger sends = new java.util.concurrent.atomic.AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < callers; t++) {
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    while (System.nanoTime() < end) {
                        SendResult r = registry.sendToGroup("g", new byte[] {1});
                        assertThat(r.accepted() + r.full()).isEqualTo(recipients);
                        sends.incrementAndGet();
                    }
                } catch (Throwable e) {
                    failure.set(e);
                }
            }));
        }
        java.util.Set<Thread> owners = java.util.Set.copyOf(threads);
        int most = 0;
        ThreadLocalRandom r = ThreadLocalRandom.current();
        while (threads.stream().anyMatch(Thread::isAlive)) { // ends with the callers, bounded by their 500 ms
            SendQueue some = queues.get(r.nextInt(recipients));
            if (some.queuedCount() > 0) { // so the drain keeps the write token: no send thread starts
                some.drain(new Object[1], Long.MAX_VALUE, 1); // room here and there
            }
            int registered = 0;
            for (SendQueue q : queues) {
                List<Thread> watchers = q.roomWatchers();
                assertThat(owners).containsAll(watchers); // no thread of the mechanism's own waits
                assertThat(java.util.Set.copyOf(watchers)).hasSameSizeAs(watchers); // one entry per call
                registered += watchers.size();
            }
            most = Math.max(most, registered);
        }
        for (Thread t : threads) {
            t.join(TimeUnit.SECONDS.toMillis(10));
        }
        assertThat(failure.get()).isNull();
        assertThat(most).isBetween(1, callers * recipients);
        assertThat(sends.get()).isGreaterThanOrEqualTo(callers);
        for (SendQueue q : queues) {
            assertThat(q.roomWatchers()).isEmpty();
        }
    }

    /**
     * Fan-outs from several threads to members whose send threads write over the socket while
     * their peers read, so room comes and goes all the time and every fan-out waits for it now and
     * then (capacity 1 or 2, BLOCK for 30 s): none waits for a room event that never comes (it
     * would sit out the 30 s), each message arrives once, and at every member each caller's
     * messages arrive in the order it sent them (a later fan-out never overtakes an earlier one).
     * Some members conflate, and some fan-outs are keyed by their caller: a keyed put waits
     * behind its key's queued value or conflates into it, and what arrives is still in order.
     */
    @Test
    void fanoutsThatWaitForRoomMadeByRealSendThreadsAllArriveInOrderWithoutALostWakeUp() throws Exception {
        int members = 6;
        int callers = 4;
        int sends = 30;
        List<QueueSender> group = new ArrayList<>();
        for (int i = 0; i < members; i++) {
            QueueSender s = member(QueueSender.options().capacity(1 + i % 2).conflating(i % 3 == 0)
                    .overflow(OverflowPolicy.BLOCK).blockTimeout(Duration.ofSeconds(30)));
            registry.joinGroup(s, "g");
            group.add(s); // its writes held until a fan-out waits (below)
        }
        // Every park of a fan-out's wait for room is counted; the members write only once one
        // has parked, so that at least one fan-out waits whatever the machine's speed.
        java.util.concurrent.atomic.AtomicInteger waited = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.CountDownLatch firstWait = new java.util.concurrent.CountDownLatch(1);
        RoomWatch.beforePark = () -> {
            waited.incrementAndGet();
            firstWait.countDown();
        };
        AtomicReference<Throwable> failure = new AtomicReference<>();
        // each member's peer reads 3-byte messages (caller, sequence) and checks each caller's order
        List<Thread> readers = new ArrayList<>();
        java.util.concurrent.atomic.AtomicIntegerArray received = new java.util.concurrent.atomic.AtomicIntegerArray(members);
        for (int i = 0; i < members; i++) {
            SocketPair p = pairs.get(i);
            int member = i;
            readers.add(Thread.ofPlatform().start(() -> {
                int[] last = new int[callers];
                java.util.Arrays.fill(last, -1);
                java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(3);
                try {
                    while (true) {
                        b.clear();
                        while (b.hasRemaining()) {
                            if (p.client.read(b) < 0) {
                                return; // the member's sender was closed: the end
                            }
                        }
                        int caller = b.get(0);
                        int seq = ((b.get(1) & 0xff) << 8) | (b.get(2) & 0xff);
                        if (seq <= last[caller]) {
                            throw new AssertionError("member " + member + ": caller " + caller + "'s " + seq
                                    + " after its " + last[caller]);
                        }
                        last[caller] = seq;
                        received.incrementAndGet(member);
                    }
                } catch (Throwable e) {
                    if (!(e instanceof java.io.IOException)) {
                        failure.compareAndSet(null, e);
                    }
                }
            }));
        }
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < callers; c++) {
            int caller = c;
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < sends; i++) {
                        byte[] m = {(byte) caller, (byte) (i >> 8), (byte) i};
                        SendResult r = caller % 2 == 0 ? registry.sendToGroup("g", m)
                                : registry.sendToGroup("g", caller, m);
                        assertThat(r).isEqualTo(new SendResult(members, 0, 0, 0, 0));
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }));
        }
        try {
            assertThat(firstWait.await(10, TimeUnit.SECONDS)).as("a fan-out waits for room").isTrue();
            for (QueueSender s : group) {
                io.stcp.QueueSenderTesting.resumeWrites(s);
            }
            for (Thread t : threads) { // a lost wake-up would hold a caller for the 30 s block timeout
                t.join(TimeUnit.SECONDS.toMillis(10));
                assertThat(t.isAlive()).as("a fan-out still waits").isFalse();
            }
            assertThat(failure.get()).isNull();
            for (SendQueue q : group.stream().map(s -> {
                try {
                    return queue(s);
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }).toList()) {
                assertThat(q.roomWatchers()).isEmpty();
            }
            // keyed messages of one caller may have been conflated; plain ones all arrive
            int plain = (callers + 1) / 2 * sends;
            for (int i = 0; i < members; i++) {
                int member = i;
                Awaitility.await().pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(5)).atMost(Duration.ofSeconds(5))
                        .until(() -> received.get(member) >= plain);
                if (i % 3 != 0) { // not conflating: every message
                    Awaitility.await().pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(5)).atMost(Duration.ofSeconds(5))
                            .until(() -> received.get(member) == callers * sends);
                }
            }
            assertThat(waited.get()).as("fan-outs' parks while waiting for room").isPositive();
        } finally {
            RoomWatch.beforePark = null;
            for (QueueSender s : group) {
                io.stcp.QueueSenderTesting.resumeWrites(s); // if the test failed before it did
                s.close();
            }
            for (int i = 0; i < members; i++) {
                pairs.get(i).client.close(); // ends its reader's read
            }
            for (Thread t : readers) {
                t.join(TimeUnit.SECONDS.toMillis(10));
            }
            for (Thread t : threads) {
                t.join(TimeUnit.SECONDS.toMillis(40));
            }
        }
        assertThat(failure.get()).isNull();
    }

    private static SendQueue queue(QueueSender s) throws Exception {
        java.lang.reflect.Field f = QueueSender.class.getDeclaredField("queue");
        f.setAccessible(true);
        return (SendQueue) f.get(s);
    }

    /**
     * A fan-out whose wait for room ends by an Error (a StackOverflowError in the park, where a
     * virtual thread's timed park schedules its wake-up deeper than the registration went) throws
     * it and leaves no entry registered in the queue it waited at: a leftover entry would be told
     * of the next room for a call that is over, holding up the fan-outs behind it there.
     */
    @Test
    void aFanoutWhoseWaitEndsByAnErrorLeavesNothingRegistered() throws Exception {
        QueueSender s = fullBlocking(Duration.ofSeconds(30));
        registry.joinGroup(s, "g");
        Thread caller = Thread.currentThread();
        RoomWatch.beforePark = () -> {
            if (Thread.currentThread() == caller) {
                throw new StackOverflowError("in the park, as a test makes it");
            }
        };
        try {
            assertThatThrownBy(() -> registry.sendToGroup("g", new byte[] {1})).isInstanceOf(StackOverflowError.class);
        } finally {
            RoomWatch.beforePark = null;
        }
        assertThat(queue(s).roomWatchers()).as("entries left registered").isEmpty();
    }

    /** Makes the next {@code tells} tells of room throw {@code error} once each has unlinked its entry (see {@link RoomWatch#beforeReady}). */
    private static void failTells(int tells, Error error) {
        java.util.concurrent.atomic.AtomicInteger left = new java.util.concurrent.atomic.AtomicInteger(tells);
        RoomWatch.beforeReady = () -> {
            if (left.getAndDecrement() > 0) {
                throw error;
            }
        };
    }

    /**
     * A tell of room that throws after its queue unlinked the entry (an OutOfMemoryError while it
     * hands the entry over, a StackOverflowError in the unpark) is not lost, and does not undo the
     * work of whoever made the room: here the first tell, from a batch taken, and the second, from
     * the told fan-out's own offer, throw. The batch is taken, each fan-out finds its entry by
     * itself and has its message queued, and the first passes the room on to the second. The old
     * code threw at the drain, its batch lost, and both fan-outs waited out their 30 s.
     */
    @Test
    void tellsThatThrowAfterTheirEntriesAreUnlinkedStillReachTheirFanoutsAndUndoNothing() throws Exception {
        QueueSender s = member(QueueSender.options().capacity(2).overflow(OverflowPolicy.BLOCK)
                .blockTimeout(Duration.ofSeconds(30)));
        s.put(new byte[] {0});
        s.put(new byte[] {0});
        try (TwoWaiting w = new TwoWaiting(s)) {
            failTells(2, new OutOfMemoryError("handing the entry over, as a test makes it"));
            AtomicReference<List<byte[]>> taken = new AtomicReference<>();
            // (what the drain throws as an assertion's failure: JUnit would end the run at an OutOfMemoryError)
            assertThatCode(() -> taken.set(drain(s))).as("the drain that makes room").doesNotThrowAnyException();
            assertThat(taken.get()).as("the batch taken").hasSize(2); // room for both
            w.assertEnded("a fan-out still waits for the room it was told of", new SendResult(1, 0, 0, 0, 0));
            assertThat(drain(s)).containsExactly(new byte[] {1}, new byte[] {2});
            assertThat(queue(s).roomWatchers()).isEmpty();
        }
    }

    /**
     * A close tells every fan-out waiting at the queue, even when its first tell throws (here a
     * StackOverflowError, as in the unpark): the close completes, and each fan-out is refused as
     * closed. The old code threw at the close and stopped at the tell that threw: the fan-outs
     * waited out their 30 s at a closed queue.
     */
    @Test
    void aCloseWhoseFirstTellThrowsStillEndsEveryFanoutWaitingThere() throws Exception {
        QueueSender s = fullBlocking(Duration.ofSeconds(30));
        try (TwoWaiting w = new TwoWaiting(s)) {
            failTells(1, new StackOverflowError("unparking, as a test makes it"));
            AtomicReference<Integer> discarded = new AtomicReference<>();
            assertThatCode(() -> discarded.set(queue(s).close())).as("the close").doesNotThrowAnyException();
            assertThat(discarded.get()).as("the message discarded").isEqualTo(1);
            w.assertEnded("a fan-out still waits at a closed queue", new SendResult(0, 0, 1, 0, 0));
            assertThat(queue(s).roomWatchers()).isEmpty();
        }
    }

    /**
     * Two fan-outs to group "g", of {@code {1}} then {@code {2}}, whose one member, {@code s}, has
     * a full queue: each waits for room there, in that order. Its close ends the tells' fault, closes
     * {@code s} and waits for both to end.
     */
    private final class TwoWaiting implements AutoCloseable {
        private final QueueSender s;
        private final AtomicReference<SendResult> first = new AtomicReference<>();
        private final AtomicReference<SendResult> second = new AtomicReference<>();
        private final Thread one;
        private final Thread two;

        TwoWaiting(QueueSender s) throws Exception {
            this.s = s;
            registry.joinGroup(s, "g");
            one = waitingIn(() -> first.set(registry.sendToGroup("g", new byte[] {1})));
            two = waitingIn(() -> second.set(registry.sendToGroup("g", new byte[] {2})));
            assertThat(queue(s).roomWatchers()).containsExactly(one, two);
        }

        /** Both fan-outs end within 5 s, each with {@code result}. */
        void assertEnded(String stillWaiting, SendResult result) throws InterruptedException {
            one.join(Duration.ofSeconds(5));
            two.join(Duration.ofSeconds(5));
            assertThat(one.isAlive() || two.isAlive()).as(stillWaiting).isFalse();
            assertThat(first.get()).isEqualTo(result);
            assertThat(second.get()).isEqualTo(result);
        }

        @Override
        public void close() throws InterruptedException {
            RoomWatch.beforeReady = null;
            s.close();
            one.join(Duration.ofSeconds(10));
            two.join(Duration.ofSeconds(10));
        }
    }

    @Test
    void aBlockTimeoutOfZeroDoesNotWaitInAFanoutEither() throws Exception {
        QueueSender s = member(QueueSender.options().capacity(1).overflow(OverflowPolicy.BLOCK).blockTimeout(Duration.ZERO));
        s.put(new byte[] {0});
        assertThat(registry.broadcast(new byte[] {1})).isEqualTo(new SendResult(0, 1, 0, 0, 0));
    }

    @Test
    void dropOldestAndCloseConnectionApplyAsInAPut() throws Exception {
        QueueSender dropping = member(QueueSender.options().capacity(1).overflow(OverflowPolicy.DROP_OLDEST));
        QueueSender closing = member(QueueSender.options().capacity(1).overflow(OverflowPolicy.CLOSE_CONNECTION));
        dropping.put(new byte[] {0});
        closing.put(new byte[] {0});
        assertThat(registry.broadcast(new byte[] {1})).isEqualTo(new SendResult(1, 1, 0, 0, 0));
        assertThat(dropping.stats().dropped()).isEqualTo(1);
        assertThat(closing.isClosed()).isTrue();
        assertThat(closing.connection().closeReason()).isEqualTo(io.stcp.CloseReason.SLOW_CONSUMER);
    }

    @Test
    void removingAConnectionRemovesEveryBindingAndLaterBindsAreRefused() throws Exception {
        QueueSender s = member(QueueSender.options());
        registry.bindUser(s, "alice");
        registry.joinGroup(s, "a");
        registry.joinGroup(s, "b");
        registry.remove(id(s));
        registry.remove(id(s)); // no effect

        assertThat(registry.users()).isEmpty();
        assertThat(registry.groups()).isEmpty();
        assertThat(registry.connectionCount()).isZero();
        assertThat(registry.bindUser(s, "alice")).isFalse();
        assertThat(registry.joinGroup(s, "a")).isFalse();
        assertThat(registry.userOf(s)).isNull();
        assertThat(registry.groupsOf(s)).isEmpty();
    }

    /**
     * Binds race with the removal of their connection, from several threads at once, many times:
     * whatever the interleaving, nothing is left bound once the removal and the binders are done.
     */
    @RepeatedTest(5)
    void bindsRacingWithTheRemovalNeverLeaveAStaleBinding() throws Exception {
        QueueSender s = sender(QueueSender.options());
        int binders = 3;
        for (int round = 0; round < 200; round++) {
            registry.add(s);
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < binders; t++) {
                int seed = t;
                threads.add(Thread.ofPlatform().start(() -> {
                    await(go);
                    // Bind until the removal wins: each bind lands before it (and is undone) or is refused.
                    for (int i = 0; ; i++) {
                        boolean bound = (i + seed) % 3 == 0 ? registry.bindUser(s, "user" + (i % 4))
                                : registry.joinGroup(s, "group" + (i % 5));
                        if ((i + seed) % 7 == 0) {
                            registry.leaveGroup(s, "group" + (i % 5));
                        }
                        if (!bound && registry.connection(id(s)) == null) {
                            return;
                        }
                    }
                }));
            }
            go.countDown();
            if (ThreadLocalRandom.current().nextBoolean()) {
                Thread.onSpinWait();
            }
            registry.remove(id(s));
            for (Thread t : threads) {
                t.join(TimeUnit.SECONDS.toMillis(10));
                assertThat(t.isAlive()).isFalse();
            }
            assertThat(registry.users()).as("round %d", round).isEmpty();
            assertThat(registry.groups()).as("round %d", round).isEmpty();
            assertThat(registry.connectionCount()).isZero();
        }
    }

    @Test
    void concurrentBindsLeavesAndSendsWhileConnectionsComeAndGoLeaveNothingBehind() throws Exception {
        List<QueueSender> senders = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            senders.add(sender(QueueSender.options().overflow(OverflowPolicy.DROP_OLDEST).capacity(4)));
        }
        for (QueueSender s : senders) {
            registry.add(s);
        }
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            threads.add(Thread.ofPlatform().start(() -> {
                ThreadLocalRandom r = ThreadLocalRandom.current();
                try {
                    while (System.nanoTime() < end) {
                        QueueSender s = senders.get(r.nextInt(senders.size()));
                        String g = "g" + r.nextInt(8);
                        switch (r.nextInt(8)) {
                            case 0 -> registry.joinGroup(s, g);
                            case 1 -> registry.leaveGroup(s, g);
                            case 2 -> registry.bindUser(s, "u" + r.nextInt(4));
                            case 3 -> registry.unbindUser(s);
                            case 4 -> registry.sendToGroup(g, new byte[] {1});
                            case 5 -> registry.sendToUser("u" + r.nextInt(4), "k", new byte[] {2});
                            case 6 -> {
                                registry.remove(id(s));
                                registry.add(s); // the connection "comes back" (same id, a new member)
                            }
                            default -> {
                                SendResult res = registry.broadcast(new byte[] {3});
                                assertThat(res.refused()).isZero(); // DROP_OLDEST: room is always made
                                for (Sender x : registry.group(g)) {
                                    assertThat(x).isNotNull();
                                }
                            }
                        }
                    }
                } catch (Throwable e) {
                    failure.set(e);
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        assertThat(failure.get()).isNull();
        for (QueueSender s : senders) {
            // the bindings each member reports are exactly the names that list it
            for (String g : registry.groupsOf(s)) {
                assertThat(registry.group(g)).contains(s);
            }
            String u = registry.userOf(s);
            if (u != null) {
                assertThat(registry.user(u)).contains(s);
            }
        }
        for (QueueSender s : senders) {
            registry.remove(id(s));
        }
        assertThat(registry.users()).isEmpty();
        assertThat(registry.groups()).isEmpty();
        assertThat(registry.connections()).isEmpty();
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }
}
