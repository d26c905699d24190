package io.stcp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/**
 * A server's connections in a registry, over real sockets: bound by what the peers send, gone with
 * every binding once they exit, reached by user, group and broadcast sends.
 *
 * <p>Protocol: 4-byte length-prefixed text commands, each answered by "ok" once done:
 * {@code user NAME}, {@code join GROUP}, {@code leave GROUP}, {@code say GROUP TEXT} (sends TEXT
 * to the group).
 */
class ConnectionRegistryTest {
    private final ConnectionRegistry registry = ConnectionRegistry.create();
    private final List<TestClient> clients = new ArrayList<>();
    private TcpServer server;

    private final ConnectionReader commands = (sender, conn) -> {
        String[] cmd = new String(conn.readBytes(conn.readInt()), UTF_8).split(" ", 3);
        switch (cmd[0]) {
            case "user" -> registry.bindUser(sender, cmd[1]);
            case "join" -> registry.joinGroup(sender, cmd[1]);
            case "leave" -> registry.leaveGroup(sender, cmd[1]);
            case "say" -> registry.sendToGroup(cmd[1], Echo.frame(cmd[2].getBytes(UTF_8)));
            default -> throw new java.net.ProtocolException("unknown command " + cmd[0]);
        }
        sender.put(Echo.frame("ok".getBytes(UTF_8)));
    };

    @AfterEach
    void stop() throws Exception {
        for (TestClient c : clients) {
            c.close();
        }
        if (server != null) {
            Echo.stop(server);
        }
    }

    private TcpServer start(ConnectionHook exitHook) throws Exception {
        server = TcpServer.create(Echo.loopback().build(), commands, SenderFactory.queue(1024))
                .registry(registry)
                .onConnectionExit(exitHook)
                .start();
        return server;
    }

    private TestClient connect() throws Exception {
        TestClient c = TestClient.connect(server.address());
        clients.add(c);
        return c;
    }

    private static void command(TestClient c, String command) throws Exception {
        assertThat(new String(c.roundTrip(command.getBytes(UTF_8)), UTF_8)).isEqualTo("ok");
    }

    @Test
    void bindingsVanishWhenTheConnectionExitsAndItsExitHookStillSeesThem() throws Exception {
        AtomicReference<String> userAtExit = new AtomicReference<>();
        AtomicReference<Set<String>> groupsAtExit = new AtomicReference<>();
        CountDownLatch exited = new CountDownLatch(1);
        start(s -> {
            userAtExit.set(registry.userOf(s));
            groupsAtExit.set(registry.groupsOf(s));
            exited.countDown();
        });
        TestClient alice = connect();
        command(alice, "user alice");
        command(alice, "join a");
        command(alice, "join b");
        assertThat(registry.connectionCount()).isEqualTo(1);
        assertThat(registry.user("alice")).hasSize(1);
        long id = registry.user("alice").iterator().next().connection().id();
        assertThat(registry.connection(id)).isNotNull();

        alice.close();
        assertThat(exited.await(10, TimeUnit.SECONDS)).isTrue();
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> server.connectionCount() == 0);

        assertThat(userAtExit.get()).isEqualTo("alice");
        assertThat(groupsAtExit.get()).containsExactlyInAnyOrder("a", "b");
        assertThat(registry.connectionCount()).isZero();
        assertThat(registry.connection(id)).isNull();
        assertThat(registry.users()).isEmpty();
        assertThat(registry.groups()).isEmpty();
    }

    /**
     * The exit race, end to end: one thread keeps binding the connection while it exits, and its
     * exit hook binds it too; once it has exited, nothing is bound and every later bind is refused.
     */
    @RepeatedTest(10)
    void bindsDuringAndAfterTheExitLeaveNothingBehind() throws Exception {
        AtomicReference<Sender> senderRef = new AtomicReference<>();
        CountDownLatch started = new CountDownLatch(1);
        start(s -> registry.joinGroup(s, "joined-in-exit-hook"));
        server.onConnectionStart(s -> {
            senderRef.set(s);
            started.countDown();
        });
        TestClient c = connect();
        assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
        Sender s = senderRef.get();
        Thread binder = Thread.ofPlatform().start(() -> {
            for (int i = 0; registry.joinGroup(s, "g" + (i % 64)) || registry.connection(s.connection().id()) != null; i++) {
                registry.bindUser(s, "u" + (i % 3));
                registry.leaveGroup(s, "g" + ((i + 32) % 64));
            }
        });
        c.close();
        binder.join(TimeUnit.SECONDS.toMillis(10));
        assertThat(binder.isAlive()).isFalse();
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> server.connectionCount() == 0);

        assertThat(registry.groups()).isEmpty();
        assertThat(registry.users()).isEmpty();
        assertThat(registry.joinGroup(s, "late")).isFalse();
        assertThat(registry.bindUser(s, "late")).isFalse();
        assertThat(registry.groups()).isEmpty();
    }

    @Test
    void groupUserAndBroadcastSendsReachTheirClientsAndCountThem() throws Exception {
        start(s -> {});
        List<TestClient> room = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            TestClient c = connect();
            command(c, "join room");
            room.add(c);
        }
        TestClient phone = connect();
        TestClient desktop = connect();
        command(phone, "user alice");
        command(desktop, "user alice");

        // a member says something: every member gets it, the speaker too, before its "ok"
        room.get(0).sendFrame("say room hello".getBytes(UTF_8));
        assertThat(new String(room.get(0).readFrame(), UTF_8)).isEqualTo("hello");
        assertThat(new String(room.get(0).readFrame(), UTF_8)).isEqualTo("ok");
        for (TestClient c : room.subList(1, room.size())) {
            assertThat(new String(c.readFrame(), UTF_8)).isEqualTo("hello");
        }

        byte[] dm = Echo.frame("for alice".getBytes(UTF_8));
        assertThat(registry.sendToUser("alice", dm)).isEqualTo(new SendResult(2, 0, 0, 0, 0));
        assertThat(phone.readFrame()).isEqualTo("for alice".getBytes(UTF_8));
        assertThat(desktop.readFrame()).isEqualTo("for alice".getBytes(UTF_8));

        byte[] all = Echo.frame("everyone".getBytes(UTF_8));
        assertThat(registry.broadcast(all)).isEqualTo(new SendResult(7, 0, 0, 0, 0));
        for (TestClient c : clients) {
            assertThat(c.readFrame()).isEqualTo("everyone".getBytes(UTF_8));
        }

        command(room.get(1), "leave room");
        assertThat(registry.group("room")).hasSize(4);
        assertThat(registry.sendToGroup("room", 1, all).accepted()).isEqualTo(4);
    }

    @Test
    void aServerWithoutARegistryRegistersNothingAndForeignRegistriesAreRefused() throws Exception {
        Set<Sender> seen = ConcurrentHashMap.newKeySet();
        CountDownLatch started = new CountDownLatch(1);
        server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8))
                .registry(registry).registry(null)
                .onConnectionStart(s -> {
                    seen.add(s);
                    started.countDown();
                })
                .start();
        TestClient c = connect();
        assertThat(c.roundTrip(new byte[] {1})).containsExactly(1);
        assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(registry.connectionCount()).isZero();
        assertThat(registry.joinGroup(seen.iterator().next(), "g")).isFalse();

        ConnectionRegistry foreign = java.lang.reflect.Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {ConnectionRegistry.class}, (p, m, a) -> null) instanceof ConnectionRegistry r ? r : null;
        assertThatThrownBy(() -> server.registry(foreign)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("ConnectionRegistry.create()");
    }
}
