package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.stcp.CloseReason;
import io.stcp.Connection;
import io.stcp.ConnectionRunner;
import io.stcp.QueueSender;
import io.stcp.framing.FrameTooLongException;
import io.stcp.testing.OwnJvm;
import io.stcp.testing.SocketPair;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Connections made with {@link Connection#of} and run by a {@link ConnectionRunner} grow their
 * large values within the inbound budget they share ({@link StandaloneContext}), as a server's
 * connections do within its own: a peer that announces a frame longer than all of it is ended at
 * once, whatever the reader's own limit allows. Without one, such a connection grew its array to
 * four times what had arrived, and waited for the rest until its frame timeout (30 s).
 */
class StandaloneInboundBudgetTest {
    private static final String MESSAGE_END = " inbound budget of %d bytes (-D" + StandaloneContext.PROPERTY + ")";

    /** In a JVM of its own: {@code frame N} runs {@link #frameAnnouncedBeyondBudget}; {@code connect} makes a connection. */
    public static void main(String[] args) throws Exception {
        System.out.println("transport: " + Transports.name());
        if (args[0].equals("frame")) {
            System.out.println("ended: " + frameAnnouncedBeyondBudget(Long.parseLong(args[1])).getMessage());
        } else {
            try (SocketPair p = SocketPair.open()) {
                System.out.println("made: " + p.server);
            } catch (IllegalStateException e) {
                System.out.println("refused: " + e.getMessage());
            }
        }
    }

    /** The default budget, an eighth of the heap: 128 MiB under the tests' 1 GiB. */
    @Test
    void aFrameAnnouncedBeyondTheDefaultBudgetEndsTheConnectionAtOnce() throws Exception {
        long budget = StandaloneContext.budgetOf(System.getProperty(StandaloneContext.PROPERTY), Runtime.getRuntime().maxMemory());
        assumeThat(budget).as("a budget below the largest array").isLessThanOrEqualTo(Integer.MAX_VALUE - (2 << 20));
        assertThat(frameAnnouncedBeyondBudget(budget + (1 << 20)))
                .hasMessageEndingWith("needs more than the standalone connections'" + MESSAGE_END.formatted(budget));
    }

    /** A budget of 1 MiB set by the property, a frame of 2 MiB; and a property that is not a number. */
    @Test
    void thePropertySizesTheBudgetAndABadOneIsRefusedByName(@TempDir Path dir) throws Exception {
        assertThat(run(dir.resolve("frame.log"), "1048576", "frame", String.valueOf(2 << 20)))
                .contains("transport: " + Transports.name())
                .contains("ended: a value of at least " + (2 << 20) + " bytes needs more than the standalone connections'"
                        + MESSAGE_END.formatted(1 << 20));
        assertThat(run(dir.resolve("bad.log"), "1g", "connect"))
                .contains("refused: " + StandaloneContext.PROPERTY + "=1g (expected: a number of bytes >= 0");
    }

    @Test
    void thePropertysValueIsItsBytesOrAnEighthOfTheHeap() {
        assertThat(StandaloneContext.budgetOf(null, 1L << 30)).isEqualTo(128L << 20);
        assertThat(StandaloneContext.budgetOf(" ", 1L << 30)).isEqualTo(128L << 20);
        assertThat(StandaloneContext.budgetOf("0", 1L << 30)).isEqualTo(128L << 20);
        assertThat(StandaloneContext.budgetOf("0", 1L << 20)).as("at least 1 MiB").isEqualTo(1L << 20);
        assertThat(StandaloneContext.budgetOf(" 65536 ", 1L << 30)).isEqualTo(65536);
        assertThat(StandaloneContext.budgetOf("-5", 1L << 30)).isEqualTo(-1);
        assertThat(StandaloneContext.budgetOf("64m", 1L << 30)).isEqualTo(-1);
    }

    /**
     * A peer announces a frame of {@code length} bytes to a runner reading frames of any length
     * from a {@link Connection#of} connection, sends 1 KiB of it and waits; asserts the connection
     * ends well before its frame timeout, as a protocol error; its cause.
     */
    private static Throwable frameAnnouncedBeyondBudget(long length) throws Exception {
        try (SocketPair p = SocketPair.open()) {
            CompletableFuture<Connection> ended = new CompletableFuture<>();
            ConnectionRunner runner = ConnectionRunner.create((sender, conn) -> conn.readBytes(conn.readInt()),
                    QueueSender.create(p.server, 8)).addExitHook(s -> ended.complete(s.connection()));
            runner.start();
            p.clientWrite(ByteBuffer.allocate(4 + 1024).putInt((int) length).array());
            Connection conn = ended.get(10, TimeUnit.SECONDS);
            assertThat(conn.closeReason()).isEqualTo(CloseReason.PROTOCOL_ERROR);
            assertThat(conn.closeCause()).isInstanceOf(FrameTooLongException.class);
            return conn.closeCause();
        }
    }

    /** Runs {@link #main} with the property set to {@code budget}, on this JVM's transport; its output. */
    private static String run(Path log, String budget, String... args) throws Exception {
        // What the epoll transport needs, when the tests run on it (stcp-epoll's surefire settings).
        List<String> options = new ArrayList<>(List.of("--enable-native-access=ALL-UNNAMED",
                "--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED"));
        for (String name : System.getProperties().stringPropertyNames()) {
            if (name.startsWith("io.stcp.")) {
                options.add("-D" + name + "=" + System.getProperty(name));
            }
        }
        options.add("-D" + StandaloneContext.PROPERTY + "=" + budget);
        return OwnJvm.run(log, 60, options, StandaloneInboundBudgetTest.class, args);
    }
}
