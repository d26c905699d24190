package io.stcp.framing;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.CloseReason;
import io.stcp.Connection;
import io.stcp.ConnectionReader;
import io.stcp.FrameTimeoutException;
import io.stcp.ReadTimeoutException;
import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A framing reader under the README's pinging reader — a read timeout caught and answered with a
 * ping, "the connection stays usable" — on real sockets (runs again on epoll). Between frames
 * that holds: the frame is still unread. Inside a frame it cannot: the framing readers keep
 * nothing between calls, so the bytes of the frame already taken (a header, the start of a line)
 * are gone, and the next call would read the rest of the frame as a frame of its own and hand the
 * handler a frame the peer never sent. Such a timeout ends the connection even if it is caught.
 * So does one inside a line of {@link io.stcp.Connection#readLine}, whose bytes are gone likewise.
 * A reader that catches such a timeout, or a frame timeout, and reads on in the same call finds the
 * end of stream.
 */
class FrameCutByAReadTimeoutTest {

    /** Each framing reader, with a frame cut in two whose second part reads as a whole frame. */
    enum Format {
        LENGTH_FIELD(h -> LengthFieldReader.builder().build(h), new byte[] {0, 0, 0, 2, 'h', 'i'}, "hi",
                new byte[] {0, 0, 0, 10, 'a', 'b', 'c'}, new byte[] {0, 0, 0, 3, 'x', 'y', 'z'}),
        LENGTH_FIELD_HALF_HEADER(h -> LengthFieldReader.builder().build(h), new byte[] {0, 0, 0, 2, 'h', 'i'}, "hi",
                new byte[] {0, 0}, new byte[] {0, 3, 0, 0, 0, 3, 'x', 'y', 'z'}),
        DELIMITER(h -> DelimiterReader.builder().lines().build(h), ascii("hi\n"), "hi",
                ascii("transfer 1"), ascii("00 to bob\n")),
        FIXED_LENGTH(h -> FixedLengthReader.of(4, h), ascii("hi!!"), "hi!!",
                ascii("ab"), ascii("cdwxyz")),
        READ_LINE(h -> (sender, conn) -> { // Connection.readLine, the same for a reader of its own
            byte[] line = conn.readLine(100);
            if (line == null) {
                throw new EOFException();
            }
            h.onFrame(sender, line);
        }, ascii("hi\r\n"), "hi", ascii("transfer 1"), ascii("00 to bob\r\n"));

        final Function<FrameHandler, ConnectionReader> reader;
        final byte[] wholeFrame;
        final String content;
        final byte[] firstPart;
        final byte[] rest;

        Format(Function<FrameHandler, ConnectionReader> reader, byte[] wholeFrame, String content, byte[] firstPart,
               byte[] rest) {
            this.reader = reader;
            this.wholeFrame = wholeFrame;
            this.content = content;
            this.firstPart = firstPart;
            this.rest = rest;
        }
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void aReadTimeoutCaughtInsideAFrameEndsTheConnectionInsteadOfReadingTheRestAsAFrame(Format format)
            throws Exception {
        BlockingQueue<String> frames = new LinkedBlockingQueue<>();
        BlockingQueue<Connection> ends = new LinkedBlockingQueue<>();
        // Every message of the server is 2 bytes: 'F' for a frame handled, 'P' for a ping, and the
        // bytes the connection had read then.
        ConnectionReader framing = answering(format, frames);
        ConnectionReader pinging = (sender, conn) -> { // the README's pinging reader, around a framing reader
            conn.readTimeout(Duration.ofMillis(100)); // short: a timeout that comes early is a ping, which the client skips
            try {
                framing.read(sender, conn);
            } catch (ReadTimeoutException e) {
                if (e instanceof FrameTimeoutException) {
                    throw e;
                }
                sender.put(new byte[] {'P', (byte) conn.bytesRead()}); // a ping; the connection stays usable
            }
        };
        TcpServer server = TcpServer.create(Echo.loopback().build(), pinging, SenderFactory.queue(16))
                .onConnectionExit(s -> ends.add(s.connection()))
                .start();
        try (TestClient client = TestClient.connect(server.address())) {
            cutAFrame(client, format, frames);
            assertEndedByTheCut(ends, frames, format);
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * The same under a reader that serves the whole conversation in one call (the README's reader
     * that loops inside its call), catching each read timeout to ping and reading on: after a
     * timeout inside a frame it must not get the rest of that frame as a frame before its call
     * returns. The input is over for it: its next read finds the end of stream, and the connection
     * ends as {@code READ_TIMEOUT} all the same.
     */
    @ParameterizedTest
    @EnumSource(Format.class)
    void aReaderThatReadsOnInTheSameCallAfterACutGetsNoFrameThePeerNeverSent(Format format) throws Exception {
        BlockingQueue<String> frames = new LinkedBlockingQueue<>();
        BlockingQueue<Connection> ends = new LinkedBlockingQueue<>();
        ConnectionReader framing = answering(format, frames);
        ConnectionReader looping = pingingLoop(framing); // a timeout that comes early is a ping, which the client skips
        TcpServer server = TcpServer.create(Echo.loopback().build(), looping, SenderFactory.queue(16))
                .onConnectionExit(s -> ends.add(s.connection()))
                .start();
        try {
            try (TestClient client = TestClient.connect(server.address())) {
                cutAFrame(client, format, frames);
            } // the client leaves: a reader still reading sees the end of stream
            assertEndedByTheCut(ends, frames, format);
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * A frame timeout under a reader that catches every read timeout, the frame timeout included,
     * and reads on in the same call: the frame timeout ends the input as a cut does, so its next
     * read finds the end of stream, and the connection ends as {@code FRAME_TIMEOUT}. It used to
     * find the frame's deadline passed at every wait, and threw a new frame timeout at once each
     * time: the reader spun, catching them, until its call returned (here at 10,000 reads).
     */
    @ParameterizedTest
    @EnumSource(Format.class)
    void aReaderThatCatchesTheFrameTimeoutAndReadsOnFindsTheEndOfStreamNotATimeoutAtEveryRead(Format format)
            throws Exception {
        BlockingQueue<String> frames = new LinkedBlockingQueue<>();
        BlockingQueue<Connection> ends = new LinkedBlockingQueue<>();
        AtomicInteger timeouts = new AtomicInteger();
        BlockingQueue<Exception> callEnds = new LinkedBlockingQueue<>();
        ConnectionReader framing = format.reader.apply((sender, frame) ->
                frames.add(new String(frame, StandardCharsets.ISO_8859_1)));
        ConnectionReader looping = (sender, conn) -> {
            try {
                for (int i = 0; i < 10_000; i++) { // bounded: on the old code every one was a timeout at once
                    try {
                        framing.read(sender, conn);
                    } catch (ReadTimeoutException e) {
                        timeouts.incrementAndGet(); // caught, whatever it is: reads on
                    }
                }
            } catch (Exception e) {
                callEnds.add(e);
                throw e;
            }
        };
        TcpServer server = TcpServer.create(Echo.loopback().frameTimeout(Duration.ofMillis(100)).build(), looping,
                        SenderFactory.queue(16))
                .onConnectionExit(s -> ends.add(s.connection()))
                .start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(format.firstPart); // part of a frame, then silence
            Connection ended = ends.poll(10, TimeUnit.SECONDS);
            assertThat(ended).as("the connection ended within 10 s").isNotNull();
            assertThat(timeouts.get()).as("timeouts the reader caught").isEqualTo(1);
            assertThat(callEnds.poll()).as("how the reader's call ended").isInstanceOf(EOFException.class);
            assertThat(frames).as("frames the peer never sent").isEmpty();
            assertThat(ended.closeReason()).isEqualTo(CloseReason.FRAME_TIMEOUT);
            assertThat(ended.closeCause()).isInstanceOf(FrameTimeoutException.class);
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * A reader that serves the whole conversation in one call, around a framing reader, and waits
     * for its peer between frames longer than the frame timeout (and than the first-frame timeout
     * since the accept), answering each read timeout with a ping: every frame is complete at once,
     * so nothing times out. Each frame the framing reader completes ends its deadline; the call's
     * first wait after its first frame used to start one deadline for the whole call, and the
     * connection was closed as {@code FRAME_TIMEOUT} ("frame not completed") between two frames.
     */
    @ParameterizedTest
    @EnumSource(Format.class)
    void aReaderThatReadsManyFramesInOneCallIsGivenAFrameTimeoutForEachFrame(Format format) throws Exception {
        BlockingQueue<String> frames = new LinkedBlockingQueue<>();
        BlockingQueue<Connection> ends = new LinkedBlockingQueue<>();
        ConnectionReader framing = answering(format, frames);
        ConnectionReader looping = pingingLoop(framing);
        TcpServer server = TcpServer.create(Echo.loopback().frameTimeout(Duration.ofMillis(200))
                        .firstFrameTimeout(Duration.ofMillis(200)).build(), looping, SenderFactory.queue(16))
                .onConnectionExit(s -> ends.add(s.connection()))
                .start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(format.wholeFrame);
            int sent = format.wholeFrame.length;
            awaitMessage(client, 'F', sent);
            for (int ping = 0; ping < 3; ping++) { // 300 ms and more of silence after the frame
                awaitMessage(client, 'P', sent);
            }
            client.sendRaw(format.wholeFrame);
            sent += format.wholeFrame.length;
            awaitMessage(client, 'F', sent);
            assertThat(frames).containsExactly(format.content, format.content);
            assertThat(ends).as("connections ended").isEmpty();
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * A whole frame after a heartbeat (a caught read timeout between frames: the next frame is read
     * whole), then the first part of another, a read timeout inside it, and its rest.
     */
    private static void cutAFrame(TestClient client, Format format, BlockingQueue<String> frames) throws IOException {
        awaitMessage(client, 'P', 0);
        client.sendRaw(format.wholeFrame);
        int sent = format.wholeFrame.length;
        awaitMessage(client, 'F', sent);
        assertThat(frames.poll()).isEqualTo(format.content);

        client.sendRaw(format.firstPart);
        sent += format.firstPart.length;
        awaitMessage(client, 'P', sent); // the reader took the first part, then its read timed out
        try {
            client.sendRaw(format.rest); // the rest of that frame, which reads as a frame of its own
        } catch (IOException closed) {
            // the server has closed already
        }
    }

    /** Reads the server's 2-byte messages until {@code kind} with {@code bytesRead}; at most 100. */
    private static void awaitMessage(TestClient client, char kind, int bytesRead) throws IOException {
        for (int i = 0; i < 100; i++) {
            byte[] m = client.readRaw(2);
            if (m[0] == kind && m[1] == bytesRead) {
                return;
            }
        }
        throw new AssertionError("no message " + kind + bytesRead + " among 100");
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * A reader that serves the whole conversation in one call around {@code framing} (the README's
     * reader that loops inside its call): at most 100 frames or pings, a ping ({@code 'P'} and the
     * bytes read so far) for each read timeout, every 100 ms of silence; a frame timeout ends it.
     */
    private static ConnectionReader pingingLoop(ConnectionReader framing) {
        return (sender, conn) -> {
            conn.readTimeout(Duration.ofMillis(100));
            for (int i = 0; i < 100; i++) {
                try {
                    framing.read(sender, conn);
                } catch (ReadTimeoutException e) {
                    if (e instanceof FrameTimeoutException) {
                        throw e;
                    }
                    sender.put(new byte[] {'P', (byte) conn.bytesRead()});
                }
            }
        };
    }

    /** {@code format}'s framing reader, noting each frame in {@code frames} and answering it with {@code 'F'} and the bytes read so far. */
    private static ConnectionReader answering(Format format, BlockingQueue<String> frames) {
        return format.reader.apply((sender, frame) -> {
            frames.add(new String(frame, StandardCharsets.ISO_8859_1));
            sender.put(new byte[] {'F', (byte) sender.connection().bytesRead()});
        });
    }

    /** The connection ended within 10 s, as READ_TIMEOUT inside the frame {@link #cutAFrame} began, and no frame the peer never sent was read. */
    private static void assertEndedByTheCut(BlockingQueue<Connection> ends, BlockingQueue<String> frames, Format format)
            throws InterruptedException {
        Connection ended = ends.poll(10, TimeUnit.SECONDS);
        assertThat(frames).as("frames the peer never sent").isEmpty();
        assertThat(ended).as("the connection ended within 10 s").isNotNull();
        assertThat(ended.closeReason()).isEqualTo(CloseReason.READ_TIMEOUT);
        assertThat(ended.closeCause()).isInstanceOf(ReadTimeoutException.class)
                .hasMessageContaining(format.firstPart.length + " bytes into a frame");
    }
}
