package io.stcp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.SocketPair;
import io.stcp.testing.TestClient;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Per-connection attributes as a reader uses them, over a real connection. */
class AttributesTest {
    private static final int FIELDS = 12;
    private static final List<AttributeKey<Integer>> FIELD_KEYS = new ArrayList<>();
    private static final AttributeKey<Session> SESSION = AttributeKey.of("session");
    private static final AttributeKey<String> NAME = AttributeKey.of("name");

    static {
        for (int i = 0; i < FIELDS; i++) {
            FIELD_KEYS.add(AttributeKey.of("field" + i));
        }
    }

    /** A session whose constructor keeps its parts as attributes of their own: a nested store. */
    record Session(String name) {
        static Session of(Connection conn) {
            for (int i = 0; i < FIELDS; i++) {
                conn.attribute(FIELD_KEYS.get(i), i);
            }
            return new Session(conn.attributeIfAbsent(NAME, () -> "guest-" + conn.id()));
        }
    }

    /**
     * The supplier of {@link Connection#attributeIfAbsent} is the reader's code: it may store and
     * read other attributes of the same connection (a session made of parts kept under keys of
     * their own). A supplier run inside the map's own update of that key failed such a nested
     * store with IllegalStateException ("Recursive update"), and held a lock of the map while the
     * reader's code ran.
     */
    @Test
    void theInitialValuesSupplierMayStoreAndReadOtherAttributes() throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CountDownLatch exited = new CountDownLatch(1);
        ConnectionReader reader = (sender, conn) -> {
            conn.readBytes(conn.readInt());
            Session s;
            try {
                s = conn.attributeIfAbsent(SESSION, () -> Session.of(conn));
            } catch (RuntimeException e) {
                failure.set(e);
                throw e;
            }
            sender.put(Echo.frame((s.name() + " " + conn.attribute(FIELD_KEYS.get(FIELDS - 1))).getBytes(UTF_8)));
        };
        TcpServer server = TcpServer.create(Echo.loopback().build(), reader, SenderFactory.queue(16))
                .onConnectionExit(s -> exited.countDown())
                .start();
        try (TestClient c = TestClient.connect(server.address())) {
            c.sendFrame(new byte[] {1});
            byte[] reply;
            try {
                reply = c.readFrame();
            } catch (java.io.IOException closed) {
                reply = null;
            }
            assertThat(failure.get()).as("the reader's attributeIfAbsent").isNull();
            assertThat(new String(reply, UTF_8)).matches("guest-\\d+ " + (FIELDS - 1));
            c.sendFrame(new byte[] {2}); // made once: the second request finds the same session
            assertThat(new String(c.readFrame(), UTF_8)).matches("guest-\\d+ " + (FIELDS - 1));
        } finally {
            Echo.stop(server);
        }
        assertThat(exited.await(10, TimeUnit.SECONDS)).isTrue();
    }

    /** Threads that race on one key all get the value that was stored first, whoever made it. */
    @Test
    void threadsThatRaceOnAKeyAllGetTheValueStoredFirst() throws Exception {
        AttributeKey<Object> key = AttributeKey.of("raced");
        try (SocketPair p = SocketPair.open()) {
            int threads = 8;
            CountDownLatch go = new CountDownLatch(1);
            List<java.util.concurrent.Future<Object>> got = new ArrayList<>();
            try (var pool = java.util.concurrent.Executors.newFixedThreadPool(threads)) {
                for (int i = 0; i < threads; i++) {
                    got.add(pool.submit(() -> {
                        go.await();
                        return p.server.attributeIfAbsent(key, Object::new);
                    }));
                }
                go.countDown();
                Object stored = got.get(0).get(10, TimeUnit.SECONDS);
                for (var f : got) {
                    assertThat(f.get(10, TimeUnit.SECONDS)).isSameAs(stored);
                }
                assertThat(p.server.attribute(key)).isSameAs(stored);
            }
        }
    }
}
