package io.stcp.framing;

import io.stcp.ConnectionReader;
import io.stcp.QueueSender;
import io.stcp.Sender;
import io.stcp.testing.SocketPair;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;

/** Sends bytes over a real loopback connection in given chunks and decodes them with a reader. */
final class Wire {
    private Wire() {}

    /** Concatenates {@code frames}. */
    static byte[] concat(List<byte[]> frames) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        frames.forEach(out::writeBytes);
        return out.toByteArray();
    }

    /**
     * Writes {@code bytes} from the client side, split at {@code cuts} (offsets, any order, out of
     * range ones ignored), each piece written and flushed separately by a writer thread; decodes
     * {@code expectedFrames} frames with the reader made by {@code readerFor}.
     */
    static List<byte[]> decode(byte[] bytes, List<Integer> cuts, int expectedFrames,
                               java.util.function.Function<FrameHandler, ConnectionReader> readerFor) throws Exception {
        List<Integer> points = cuts.stream().filter(c -> c > 0 && c < bytes.length).distinct().sorted().toList();
        try (SocketPair p = SocketPair.open()) {
            p.client.socket().setTcpNoDelay(true);
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    int from = 0;
                    for (int cut : points) {
                        p.clientWrite(java.util.Arrays.copyOfRange(bytes, from, cut));
                        from = cut;
                    }
                    p.clientWrite(java.util.Arrays.copyOfRange(bytes, from, bytes.length));
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            List<byte[]> frames = new ArrayList<>();
            ConnectionReader reader = readerFor.apply((sender, frame) -> frames.add(frame));
            Sender sender = QueueSender.create(p.server, 16);
            while (frames.size() < expectedFrames) {
                reader.read(sender, p.server);
            }
            writer.join();
            sender.close();
            return frames;
        }
    }

    /**
     * Writes {@code bytes} from the client side and then ends its output; decodes frames with the
     * reader made by {@code readerFor} until the end of the stream (so a wrong split never hangs).
     * The last element is null when the stream ended inside a frame.
     */
    static List<byte[]> decodeToEnd(byte[] bytes, java.util.function.Function<FrameHandler, ConnectionReader> readerFor)
            throws Exception {
        try (SocketPair p = SocketPair.open()) {
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    p.clientWrite(bytes);
                    p.client.shutdownOutput();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            List<byte[]> frames = new ArrayList<>();
            ConnectionReader reader = readerFor.apply((sender, frame) -> frames.add(frame));
            Sender sender = QueueSender.create(p.server, 16);
            try {
                while (true) {
                    reader.read(sender, p.server);
                }
            } catch (java.io.EOFException end) {
                if (!String.valueOf(end.getMessage()).contains("after 0 bytes")) {
                    frames.add(null); // ended inside a frame
                }
            }
            writer.join();
            sender.close();
            return frames;
        }
    }
}
