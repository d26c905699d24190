package io.stcp.testing;

import io.stcp.TcpServer;
import java.time.Duration;
import java.util.Arrays;

/**
 * A {@code main} for {@code SignalShutdownTest}: {@link TcpServer#runUntilSignal} in a JVM where
 * {@code io.stcp} is a named module and only the modules it requires are there (as for an
 * application on the module path), ended by a real SIGTERM sent with {@code kill}. Exits 0 when the
 * signal ended the wait and {@code main} returned; a JVM ended by the signal exits 143.
 *
 * <p>In this package, not {@code io.stcp.internal}: a package of the named module {@code io.stcp}
 * cannot also hold classes from the class path.
 */
public final class SignalOnModulePath {
    private SignalOnModulePath() {}

    public static void main(String[] args) throws Exception {
        if (!TcpServer.class.getModule().isNamed()) {
            System.out.println("io.stcp is not a named module in this JVM");
            System.exit(5);
        }
        TcpServer server = Echo.start();
        Thread main = Thread.currentThread();
        Thread.ofPlatform().daemon().start(() -> {
            try {
                long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                while (!waitsForASignal(main)) { // bounded: the JVM is ended below if it never waits
                    if (System.nanoTime() > deadline) {
                        System.out.println("runUntilSignal never waited for a signal");
                        System.exit(6);
                    }
                    Thread.sleep(10);
                }
                Process kill = new ProcessBuilder("kill", "-TERM", Long.toString(ProcessHandle.current().pid()))
                        .inheritIO().start();
                kill.waitFor();
            } catch (Exception e) {
                e.printStackTrace(System.out);
                System.exit(7);
            }
        });
        boolean drained = server.runUntilSignal(Duration.ofSeconds(5));
        System.out.println("runUntilSignal returned after the signal: drained=" + drained);
    }

    /** Whether {@code t} waits in runUntilSignal for a signal: its handler is installed by then. */
    private static boolean waitsForASignal(Thread t) {
        return t.getState() == Thread.State.WAITING && Arrays.stream(t.getStackTrace())
                .anyMatch(f -> f.getClassName().equals("io.stcp.internal.SignalShutdown"));
    }
}
