package io.stcp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A login that one connection holds at a time, over real sockets: several connections log in as
 * one name at the same instant ({@link ConnectionRegistry#bindUserExclusively}), and exactly one
 * stays bound, and at no time was more than one bound (each login after the first unbinds exactly
 * one); the others are closed and leave the registry.
 *
 * <p>Protocol: the first 4-byte length-prefixed frame is the name to log in as. The readers of a
 * round wait for one another at a barrier just before they log in, so that the logins meet.
 */
class ExclusiveLoginTest {
    private static final int LOGINS = 6;
    private static final int ROUNDS = 20;

    private final ConnectionRegistry registry = ConnectionRegistry.create();
    private final CyclicBarrier together = new CyclicBarrier(LOGINS);
    private final AtomicReference<CountDownLatch> loggedIn = new AtomicReference<>();
    private final Queue<Integer> unbinds = new ConcurrentLinkedQueue<>(); // how many each login of a round unbound
    private final List<TestClient> clients = new ArrayList<>();
    private TcpServer server;

    private final ConnectionReader login = (me, conn) -> {
        String name = new String(conn.readBytes(conn.readInt()), UTF_8);
        together.await(10, TimeUnit.SECONDS);
        Collection<Sender> unbound = registry.bindUserExclusively(me, name);
        for (Sender old : unbound) {
            old.close();
        }
        unbinds.add(unbound.size());
        loggedIn.get().countDown();
        conn.readInt(); // nothing more comes: waits until the peer or a later login closes it
    };

    @AfterEach
    void stop() throws Exception {
        closeClients();
        if (server != null) {
            Echo.stop(server);
        }
    }

    private void closeClients() throws Exception {
        for (TestClient c : clients) {
            c.close();
        }
        clients.clear();
    }

    @Test
    void ofLoginsOfOneNameAtOnceExactlyOneStaysBoundAndTheOthersAreClosed() throws Exception {
        server = TcpServer.create(Echo.loopback().build(), login, SenderFactory.queue(16)).registry(registry).start();
        for (int round = 0; round < ROUNDS; round++) {
            loggedIn.set(new CountDownLatch(LOGINS));
            unbinds.clear();
            for (int i = 0; i < LOGINS; i++) {
                TestClient c = TestClient.connect(server.address());
                clients.add(c);
                c.sendFrame("alice".getBytes(UTF_8));
            }
            assertThat(loggedIn.get().await(10, TimeUnit.SECONDS)).as("round %d: every login done", round).isTrue();

            assertThat(registry.user("alice")).as("round %d: bound to alice", round).hasSize(1);
            // one at most was bound at any time: each login after the first unbound exactly one
            assertThat(unbinds).as("round %d: unbound by each login", round)
                    .containsOnly(0, 1).filteredOn(n -> n == 1).hasSize(LOGINS - 1);
            Sender winner = registry.user("alice").iterator().next();
            Awaitility.await().pollInterval(Duration.ofMillis(10)).atMost(Duration.ofSeconds(10)).until(() -> registry.connectionCount() == 1);
            assertThat(registry.connections()).containsExactly(winner); // the others were closed and left
            assertThat(registry.userOf(winner)).isEqualTo("alice");

            closeClients();
            Awaitility.await().pollInterval(Duration.ofMillis(10)).atMost(Duration.ofSeconds(10)).until(() -> server.connectionCount() == 0);
            assertThat(registry.users()).as("round %d: nothing left after the exits", round).isEmpty();
        }
    }
}
