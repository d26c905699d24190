package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.LogCapture;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The JDK transport's selector thread (Unix sockets) never leaves a reader waiting for a wake-up
 * that will not come, whatever it throws (injected through {@link SelectorPoller#faults}): the
 * channel whose signal failed is failed alone, and a selector thread that cannot continue fails
 * every channel and is replaced for the ones that come next ({@link SelectorPoller}, "Failures").
 * Transport-independent: the channels are the JDK transport's whatever the JVM's is.
 */
class SelectorPollerFailureTest {
    private static final Duration PROMPTLY = Duration.ofSeconds(20); // generous: the point is "not never"

    @TempDir
    Path dir;

    @AfterEach
    void noFaults() {
        SelectorPoller.faults = null;
    }

    @Test
    void aSignalThatFailsFailsOnlyItsChannel() throws Exception {
        try (ServerSocketChannel listener = listener("a");
             SocketChannel failingPeer = SocketChannel.open(listener.getLocalAddress());
             SocketChannel failingChannel = listener.accept();
             SocketChannel otherPeer = SocketChannel.open(listener.getLocalAddress());
             SocketChannel otherChannel = listener.accept();
             LogCapture log = LogCapture.of(Log.SERVER.getName())) {
            PolledTransport failing = new PolledTransport(failingChannel);
            PolledTransport other = new PolledTransport(otherChannel);
            AtomicBoolean thrown = new AtomicBoolean();
            SelectorPoller.faults = new SelectorPoller.Faults() {
                @Override
                public void beforeSignal(java.nio.channels.SelectableChannel channel) {
                    if (channel == failingChannel && thrown.compareAndSet(false, true)) {
                        throw new OutOfMemoryError("injected: unparking the reader");
                    }
                }
            };
            CompletableFuture<Integer> failingRead = readOnceWaiting(failing);
            failingPeer.write(ByteBuffer.wrap(new byte[] {1}));
            Awaitility.await("the read whose signal failed to end").atMost(PROMPTLY).until(failingRead::isDone);
            assertThat(failingRead).failsWithin(Duration.ZERO).withThrowableThat()
                    .havingCause().isInstanceOf(PollerFailedException.class);
            failing.close(); // what its connection does

            CompletableFuture<Integer> otherRead = readOnceWaiting(other);
            otherPeer.write(ByteBuffer.wrap(new byte[] {2}));
            assertThat(otherRead).as("the others go on").succeedsWithin(PROMPTLY).isEqualTo(1);
            assertThat(log.events("server.poller.signal.failed")).hasSize(1);
            assertThat(log.events("server.poller.dead")).isEmpty();
            other.close();
        }
    }

    @Test
    void aSelectorThreadThatCannotContinueFailsItsChannelsAndNewOnesGoToANewOne() throws Exception {
        try (ServerSocketChannel listener = listener("b");
             SocketChannel peer = SocketChannel.open(listener.getLocalAddress());
             SocketChannel channel = listener.accept();
             LogCapture log = LogCapture.of(Log.SERVER.getName())) {
            PolledTransport transport = new PolledTransport(channel);
            SelectorPoller.faults = new SelectorPoller.Faults() {
                @Override
                public void beforeSelect() {
                    throw new IllegalStateException("injected: a bug in the selector thread");
                }
            };
            CompletableFuture<Integer> read = readOnceWaiting(transport); // its wait wakes the selector, which fails from then on
            Awaitility.await("the dead selector's read to end").atMost(PROMPTLY).until(read::isDone);
            assertThat(read).failsWithin(Duration.ZERO).withThrowableThat()
                    .havingCause().isInstanceOf(PollerFailedException.class);
            transport.close();
            // The dying thread fails its channels first and logs after: the read may end before the line.
            Awaitility.await("the death logged").atMost(PROMPTLY).until(() -> !log.events("server.poller.dead").isEmpty());
            assertThat(log.events("server.poller.dead")).as("logged once").hasSize(1);
            assertThat(log.events("server.poller.failed")).as("its first failure, not every retry").hasSize(1);
            SelectorPoller.faults = null;

            try (SocketChannel nextPeer = SocketChannel.open(listener.getLocalAddress());
                 SocketChannel nextChannel = listener.accept()) {
                PolledTransport next = new PolledTransport(nextChannel);
                CompletableFuture<Integer> nextRead = readOnceWaiting(next);
                nextPeer.write(ByteBuffer.wrap(new byte[] {3}));
                assertThat(nextRead).as("on a new selector thread").succeedsWithin(PROMPTLY).isEqualTo(1);
                next.close();
            }
        }
    }

    private ServerSocketChannel listener(String name) throws IOException {
        return ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(dir.resolve(name)));
    }

    /** A read of {@code t} on a thread of its own, once that thread waits for input (no deadline). */
    private static CompletableFuture<Integer> readOnceWaiting(PolledTransport t) {
        CompletableFuture<Integer> result = new CompletableFuture<>();
        Thread reader = Thread.ofVirtual().start(() -> {
            try {
                result.complete(t.read(new byte[16], 0, 16, 0));
            } catch (Throwable e) {
                result.completeExceptionally(e);
            }
        });
        Awaitility.await().atMost(PROMPTLY).until(() -> reader.getState() == Thread.State.WAITING || result.isDone());
        return result;
    }
}
