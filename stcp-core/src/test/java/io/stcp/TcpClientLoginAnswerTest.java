package io.stcp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The README's pattern for a client behind a balancer: a connect hook that reads the server's
 * answer to its login, so that the connection is up only once a server answered, and that closes
 * its sender when no answer comes. A balancer accepts while it has no server to pass the client
 * to; without the answer, what the offline queue kept would go to that connection and be lost.
 */
class TcpClientLoginAnswerTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final BlockingQueue<String> answers = new LinkedBlockingQueue<>();
    private TcpClient client;

    @AfterEach
    void stop() throws Exception {
        if (client != null) {
            client.close();
            assertThat(client.awaitTermination(WAIT)).isTrue();
        }
    }

    @Test
    void messagesPutWhileABalancerHoldsTheConnectionWithoutAServerWaitForOneThatAnswers() throws Exception {
        try (ServerSocketChannel balancer = ServerSocketChannel.open()) {
            balancer.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            ClientConfig config = ClientConfig.builder("127.0.0.1:" + ((InetSocketAddress) balancer.getLocalAddress()).getPort())
                    .reconnectDelay(Duration.ofMillis(5)).reconnectMaxDelay(Duration.ofMillis(50))
                    .offlineQueue(10, 1024)
                    .build();
            client = TcpClient.create(config, (sender, conn) -> conn.readBytes(conn.readInt()), SenderFactory.queue(16))
                    .onConnect(me -> {
                        me.put(frame("login"));
                        try {
                            Connection c = me.connection(); // the hook runs on the reader's thread: it may read
                            answers.add(new String(c.readBytes(c.readInt()), UTF_8));
                        } catch (IOException e) {
                            me.close(); // not up: the offline queue keeps its messages for the next connection
                            throw e;
                        }
                    })
                    .start();

            try (SocketChannel noServer = balancer.accept()) { // accepted, but nothing behind it answers
                assertThat(readFrame(noServer)).isEqualTo("login");
                client.put(frame("telemetry 1")); // kept offline: the hook still waits for the answer
                assertThat(client.isConnected()).isFalse();
            } // the balancer gives up on its server: the hook's read ends, and it closes
            try (SocketChannel server = balancer.accept()) {
                assertThat(readFrame(server)).isEqualTo("login");
                server.write(ByteBuffer.wrap(frame("welcome")));
                assertThat(answers.poll(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("welcome");
                assertThat(readFrame(server)).isEqualTo("telemetry 1"); // not lost with the first connection
                assertThat(client.awaitConnected(WAIT)).isTrue();
                assertThat(client.offlineDropped()).isZero();
            }
        }
    }

    private static byte[] frame(String text) {
        return Echo.frame(text.getBytes(UTF_8));
    }

    /** One 4-byte length-prefixed frame from a blocking channel. */
    private static String readFrame(SocketChannel ch) throws IOException {
        ByteBuffer length = readFully(ch, 4);
        return new String(readFully(ch, length.getInt()).array(), UTF_8);
    }

    private static ByteBuffer readFully(SocketChannel ch, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new EOFException("after " + b.position() + " of " + n + " bytes");
            }
        }
        return b.flip();
    }
}
