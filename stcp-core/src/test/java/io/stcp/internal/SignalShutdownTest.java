package io.stcp.internal;

import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import io.stcp.testing.OwnJvm;
import io.stcp.testing.SignalOnModulePath;
import java.io.IOException;
import java.lang.reflect.Method;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.slf4j.Logger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link TcpServer#runUntilSignal}'s hold on SIGINT and SIGTERM, in a JVM of its own (the signals
 * are real): every server waiting at once hears a signal, a signal stays received for a server that
 * begins waiting later, and once none waits, a signal ends the JVM again as it did before.
 */
class SignalShutdownTest {

    /**
     * Two servers wait in {@code runUntilSignal} on threads of their own; one SIGTERM must end both
     * waits. A third server that begins waiting only after that must be shut down at once, without
     * a signal of its own (the operator sent one; it is not lost on it), and the next SIGTERM is its
     * second signal: it closes the request in progress the shutdown waits for. One more SIGTERM,
     * after all three returned, must end the JVM (exit 143) as without stcp.
     */
    public static void main(String[] args) throws Exception {
        TcpServer a = Echo.start();
        TcpServer b = Echo.start();
        AtomicReference<Object> endA = new AtomicReference<>();
        AtomicReference<Object> endB = new AtomicReference<>();
        Thread ta = waiting(a, endA);
        Thread tb = waiting(b, endB);
        Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> waitsForASignal(ta) && waitsForASignal(tb));
        raise("TERM");
        ta.join(Duration.ofSeconds(20));
        tb.join(Duration.ofSeconds(20));
        if (ta.isAlive() || tb.isAlive()) {
            System.out.println("a server missed the signal: first " + endA.get() + ", second " + endB.get());
            a.close();
            b.close();
            System.exit(3);
        }
        System.out.println("both servers shut down: " + endA.get() + ", " + endB.get());
        TcpServer c = Echo.start();
        try (Socket client = new Socket()) {
            // A request in progress (4 bytes of length, 2 of 10 bytes of payload): a graceful shutdown waits for it.
            client.connect(c.address());
            client.getOutputStream().write(new byte[] {0, 0, 0, 10, 1, 2});
            // Read by the server (its 6 bytes in the connection's buffer): a request in progress. Until
            // then its reader may still wait between requests, and the shutdown rightly ends it at once.
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> c.stats().bytesIn() == 6);
            AtomicReference<Object> endC = new AtomicReference<>();
            Thread tc = waiting(c, endC);
            try {
                Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> refuses(c)); // shutting down, by the first signal
            } catch (ConditionTimeoutException e) {
                System.out.println("a server that began waiting after the signal waits for another one");
                c.close();
                System.exit(5);
            }
            if (!tc.isAlive()) {
                System.out.println("the later server did not wait for the request in progress: " + endC.get());
                System.exit(6);
            }
            raise("TERM"); // its second signal: what is left is closed at once, within far less than its 30 s grace
            tc.join(Duration.ofSeconds(20));
            if (tc.isAlive()) {
                System.out.println("the later server's second signal did not close what was left");
                c.close();
                System.exit(7);
            }
            System.out.println("the later server shut down at once, and closed by the next signal: " + endC.get());
        }
        raise("TERM"); // nobody waits any more: the JVM's own handler ends it, exit 143
        new CountDownLatch(1).await(20, TimeUnit.SECONDS);
        System.out.println("the signal was swallowed after runUntilSignal returned");
        System.exit(4);
    }

    private static Thread waiting(TcpServer server, AtomicReference<Object> end) {
        return Thread.ofPlatform().start(() -> {
            try {
                end.set(server.runUntilSignal(Duration.ofSeconds(30)));
            } catch (Exception e) {
                end.set(e);
            }
        });
    }

    /** Whether {@code server} has stopped listening: a connection to it is refused. */
    static boolean refuses(TcpServer server) {
        try (Socket probe = new Socket()) {
            probe.connect(server.address(), 1000);
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    /** Whether {@code t} waits in runUntilSignal for a signal: its handler is installed by then. */
    static boolean waitsForASignal(Thread t) {
        return t.getState() == Thread.State.WAITING && Arrays.stream(t.getStackTrace())
                .anyMatch(f -> f.getClassName().equals(SignalShutdown.class.getName()));
    }

    static void raise(String name) throws ReflectiveOperationException {
        Class<?> signal = Class.forName("sun.misc.Signal");
        Method raise = signal.getMethod("raise", signal);
        raise.invoke(null, signal.getConstructor(String.class).newInstance(name));
    }

    @Test
    void oneSignalEndsEveryWaitingServerAndOneWaitingLaterAndAfterwardsEndsTheJvmAsBefore(@TempDir Path dir) throws Exception {
        OwnJvm.run(dir.resolve("signals.log"), 60, 143, List.of(), SignalShutdownTest.class);
    }

    /**
     * On the module path, where a JVM resolves only the modules {@code io.stcp} requires, a SIGTERM
     * must end {@code runUntilSignal} and let {@code main} return (exit 0), as on the class path:
     * {@code sun.misc.Signal} is in {@code jdk.unsupported}, which only a {@code requires} brings.
     * ({@code --limit-modules io.stcp,java.se} leaves the JVM what io.stcp requires, and the
     * standard modules, none of which requires a {@code jdk.*} one.)
     */
    @Test
    void onTheModulePathASignalEndsTheWaitAndTheJvmExitsZero(@TempDir Path dir) throws Exception {
        String modulePath = location(TcpServer.class) + java.io.File.pathSeparator + location(Logger.class);
        OwnJvm.run(dir.resolve("module-path.log"), 60, List.of("--module-path", modulePath,
                "--add-modules", "io.stcp", "--limit-modules", "io.stcp,java.se"), SignalOnModulePath.class);
    }

    /** The jar or classes folder {@code type} was loaded from. */
    private static String location(Class<?> type) throws Exception {
        return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }
}
