package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.InstanceOfAssertFactories.THROWABLE;

import io.stcp.ClientConfig;
import io.stcp.ConnectionReader;
import io.stcp.QueueSender;
import io.stcp.SenderFactory;
import io.stcp.TcpClient;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import io.stcp.testing.OwnJvm;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link TcpClient#runUntilSignal}: the signals as a server's {@code runUntilSignal} takes them,
 * shared with it, in a JVM of its own (the signals are real); and, in this one, the wait's end
 * when the client terminates by itself.
 */
class ClientSignalShutdownTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    /** Reads the server's frames and drops them. */
    private static final ConnectionReader DROP = (sender, conn) -> conn.readBytes(conn.readInt());

    /**
     * A server and a client wait in {@code runUntilSignal} on threads of their own; one SIGTERM
     * must end both waits, and the client's shutdown must report that everything it accepted was
     * written. A second client, whose messages a server that never reads holds up, begins waiting
     * only after that: it must be shut down at once (the signal stays received) and wait for its
     * flush within its grace; the next SIGTERM is its second signal, which closes it, discarding
     * what was queued, and the wait must return false. One more SIGTERM, after all returned, must
     * end the JVM (exit 143) as without stcp.
     */
    public static void main(String[] args) throws Exception {
        TcpServer server = Echo.start();
        BlockingQueue<byte[]> echoed = new LinkedBlockingQueue<>();
        TcpClient first = TcpClient.create(ClientConfig.builder(HostPort.format(server.address())).build(),
                (sender, conn) -> echoed.add(conn.readBytes(conn.readInt())), SenderFactory.queue(16));
        AtomicReference<Object> endServer = new AtomicReference<>();
        AtomicReference<Object> endFirst = new AtomicReference<>();
        Thread ts = waiting(endServer, () -> server.runUntilSignal(Duration.ofSeconds(30)));
        Thread tf = waiting(endFirst, () -> first.runUntilSignal(Duration.ofSeconds(30)));
        Awaitility.await().atMost(WAIT).until(() -> SignalShutdownTest.waitsForASignal(ts)
                && SignalShutdownTest.waitsForASignal(tf) && first.isConnected()); // started by runUntilSignal
        first.put(Echo.frame("echoed".getBytes()));
        if (echoed.poll(WAIT.toSeconds(), TimeUnit.SECONDS) == null) { // nothing left in flight
            System.out.println("the first client's frame was not echoed");
            System.exit(9);
        }
        SignalShutdownTest.raise("TERM");
        ts.join(WAIT);
        tf.join(WAIT);
        if (ts.isAlive() || tf.isAlive()) {
            System.out.println("one missed the signal: server " + endServer.get() + ", client " + endFirst.get());
            System.exit(3);
        }
        if (!Boolean.TRUE.equals(endFirst.get()) || !Boolean.TRUE.equals(endServer.get())) {
            System.out.println("a clean shutdown returned: server " + endServer.get() + ", client " + endFirst.get());
            System.exit(4);
        }
        System.out.println("the server and the client shut down on one signal: " + endServer.get() + ", " + endFirst.get());

        try (ServerSocketChannel deaf = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            TcpClient second = TcpClient.create(ClientConfig.builder(HostPort.format(deaf.getLocalAddress()))
                    .writeTimeout(Duration.ZERO).build(), DROP, QueueSender.options().capacity(1024).maxBytes(0)::build).start();
            try (SocketChannel never = deaf.accept()) { // never reads
                if (!second.awaitConnected(WAIT)) {
                    System.out.println("the second client did not connect");
                    System.exit(5);
                }
                QueueSender sender = (QueueSender) second.sender();
                byte[] big = new byte[64 << 10];
                for (int i = 0; i < 1024; i++) { // 64 MiB: far more than the sockets hold
                    second.put(big);
                }
                if (sender.stats().pendingMessages() == 0) {
                    System.out.println("nothing stayed queued");
                    System.exit(10);
                }
                AtomicReference<Object> endSecond = new AtomicReference<>();
                Thread t2 = waiting(endSecond, () -> second.runUntilSignal(Duration.ofSeconds(30)));
                // Shut down at once, by the first signal: its puts fail (closed), and it flushes within 30 s.
                Awaitility.await().atMost(WAIT).until(() -> !second.isConnected());
                if (!t2.isAlive()) {
                    System.out.println("the second client did not wait for its flush: " + endSecond.get());
                    System.exit(6);
                }
                SignalShutdownTest.raise("TERM"); // its second signal: closed at once, the queue discarded
                t2.join(WAIT);
                if (t2.isAlive() || !Boolean.FALSE.equals(endSecond.get())) {
                    System.out.println("the second signal left the second client " + (t2.isAlive() ? "waiting" : "returning " + endSecond.get()));
                    System.exit(7);
                }
                System.out.println("the second client shut down at once, and its second signal closed it: " + endSecond.get());
            }
        }
        SignalShutdownTest.raise("TERM"); // nobody waits any more: the JVM's own handler ends it, exit 143
        new CountDownLatch(1).await(20, TimeUnit.SECONDS);
        System.out.println("the signal was swallowed after runUntilSignal returned");
        System.exit(8);
    }

    private interface Call {
        Object call() throws Exception;
    }

    /** Makes {@code call} on a thread of its own, which sets {@code end} to its result or what it threw. */
    private static Thread waiting(AtomicReference<Object> end, Call call) {
        return Thread.ofPlatform().start(() -> {
            try {
                end.set(call.call());
            } catch (Exception e) {
                end.set(e);
            }
        });
    }

    @Test
    void oneSignalShutsAServerAndAClientDownAndASecondClosesAClientThatWaitsForItsFlush(@TempDir Path dir) throws Exception {
        OwnJvm.run(dir.resolve("client-signals.log"), 90, 143, List.of(), ClientSignalShutdownTest.class);
    }

    @Test
    void aClientClosedFromElsewhereEndsTheWaitWithTrue() throws Exception {
        TcpServer server = Echo.start();
        try {
            TcpClient client = TcpClient.create(ClientConfig.builder(HostPort.format(server.address())).build(), DROP,
                    SenderFactory.queue(16));
            AtomicReference<Object> end = new AtomicReference<>();
            Thread t = waiting(end, () -> client.runUntilSignal(WAIT));
            Awaitility.await().atMost(WAIT).until(() -> SignalShutdownTest.waitsForASignal(t) && client.isConnected());
            client.close();
            t.join(WAIT);
            assertThat(end.get()).isEqualTo(true);
            assertThat(client.termination()).isCompleted();
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void twoWaitsOnANewClientAtOnceStartItOnce() throws Exception {
        // runUntilSignal starts a new client: checked and started in two steps, two callers at once
        // both found it new and the second's start threw "client already started".
        TcpServer server = Echo.start();
        try {
            for (int i = 0; i < 50; i++) {
                TcpClient client = TcpClient.create(ClientConfig.builder(HostPort.format(server.address())).build(), DROP,
                        SenderFactory.queue(16));
                java.util.concurrent.CyclicBarrier together = new java.util.concurrent.CyclicBarrier(2);
                List<AtomicReference<Object>> ends = List.of(new AtomicReference<>(), new AtomicReference<>());
                List<Thread> waits = ends.stream().map(end -> waiting(end, () -> {
                    together.await();
                    return client.runUntilSignal(WAIT);
                })).toList();
                Awaitility.await().atMost(WAIT).until(() -> waits.stream()
                        .allMatch(t -> SignalShutdownTest.waitsForASignal(t) || !t.isAlive()));
                client.close();
                for (Thread t : waits) {
                    t.join(WAIT);
                }
                assertThat(ends).as("round %d", i).allSatisfy(end -> assertThat(end.get()).isEqualTo(true));
            }
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aClientThatGivesUpEndsTheWaitWithItsConnectException() throws Exception {
        InetSocketAddress refusing;
        try (ServerSocketChannel closed = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            refusing = (InetSocketAddress) closed.getLocalAddress();
        }
        TcpClient client = TcpClient.create(ClientConfig.builder(HostPort.format(refusing))
                .reconnectDelay(Duration.ofMillis(1)).maxAttempts(2).build(), DROP, SenderFactory.queue(16));
        AtomicReference<Object> end = new AtomicReference<>();
        waiting(end, () -> client.runUntilSignal(WAIT)).join(WAIT);
        Object ended = end.get();
        assertThat(ended).asInstanceOf(THROWABLE).isInstanceOf(ConnectException.class).hasMessageContaining("gave up");
        assertThatThrownBy(() -> client.termination().get()).hasCause((Throwable) ended); // the one termination() holds
    }
}
