package io.stcp.epoll;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.CloseReason;
import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * A large value whose rest has not arrived waits for it in the kernel: the reader sleeps with the
 * socket's receive low-water mark raised, and the bytes already sent stay in the socket instead of
 * in an array. (Not in the run with the module's socket calls switched off, which cannot set it.)
 */
class LowWaterTest {

    @Test
    void aLargeValueWaitsInTheKernelUntilItsRestHasArrivedThenComesBackWhole() throws Exception {
        int length = 1 << 20;
        int first = 300 << 10;
        // Short of the rest, and well inside the window: with the window nearly full (within one
        // segment, 64 KiB on loopback) the kernel wakes the reader despite the mark, which a loaded
        // machine's slower window growth made happen with 200 KiB here (once in a dozen full runs).
        int second = 100 << 10;
        AtomicReference<Thread> reader = new AtomicReference<>();
        AtomicReference<SocketChannel> socket = new AtomicReference<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            reader.set(Thread.currentThread());
            socket.set(conn.channel());
            int n = conn.readInt();
            sender.put(conn.readBytes(ByteBuffer.allocate(4).putInt(n).array(), n));
        }, SenderFactory.queue(4)).start();
        byte[] body = new byte[length];
        new Random(3).nextBytes(body);
        try (Socket client = new Socket("127.0.0.1", server.address().getPort())) {
            client.setSoTimeout(20_000);
            DataOutputStream out = new DataOutputStream(client.getOutputStream());
            out.writeInt(length);
            out.write(body, 0, first);
            out.flush();

            // The reader may have read some of the first part (it wakes while the window is nearly
            // full, as it is before the mark makes room), and then waits for the rest.
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> waitsForInput(reader.get()));
            // What comes now, still short of the rest, stays in the kernel while the reader sleeps.
            out.write(body, first, second);
            out.flush();
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> waitsForInput(reader.get())
                    && socket.get().socket().getInputStream().available() > 64 << 10);

            out.write(body, first + second, length - first - second);
            out.flush();
            DataInputStream in = new DataInputStream(client.getInputStream());
            assertThat(in.readInt()).isEqualTo(length);
            byte[] back = new byte[length];
            in.readFully(back);
            assertThat(Arrays.equals(back, body)).isTrue();
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void theEndOfTheStreamEndsTheWaitForARestThatWillNotCome() throws Exception {
        AtomicReference<Thread> reader = new AtomicReference<>();
        BlockingQueue<CloseReason> ends = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().frameTimeout(Duration.ofSeconds(60)).build(), (sender, conn) -> {
            reader.set(Thread.currentThread());
            sender.put(conn.readBytes(conn.readInt()));
        }, SenderFactory.queue(4)).onConnectionExit(s -> ends.add(s.connection().closeReason())).start();
        try (Socket client = new Socket("127.0.0.1", server.address().getPort())) {
            DataOutputStream out = new DataOutputStream(client.getOutputStream());
            out.writeInt(1 << 20);
            // Well inside the window: a window nearly full wakes the reader despite the mark (see
            // the test above), and it then never waits in the kernel for the rest (300 KiB did so
            // once on a loaded machine).
            out.write(new byte[100 << 10]);
            out.flush();
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> waitsForInput(reader.get()));

            client.shutdownOutput();
            // Long before the 60 s frame timeout: the kernel signals the end despite the mark.
            assertThat(ends.poll(20, TimeUnit.SECONDS)).isNotNull().isNotEqualTo(CloseReason.FRAME_TIMEOUT);
        } finally {
            Echo.stop(server);
        }
    }

    private static boolean waitsForInput(Thread reader) {
        if (reader == null) {
            return false;
        }
        for (StackTraceElement e : reader.getStackTrace()) {
            if (e.getClassName().endsWith(".ReadinessTransport") && e.getMethodName().equals("awaitInput")) {
                return true;
            }
        }
        return false;
    }
}
