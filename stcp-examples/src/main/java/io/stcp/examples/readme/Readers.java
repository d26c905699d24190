package io.stcp.examples.readme;

import io.stcp.Connection;
import io.stcp.ConnectionReader;
import io.stcp.MetaInfo;
import io.stcp.ReadTimeoutException;
import io.stcp.Sender;
import java.io.IOException;
import java.net.ProtocolException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.function.BiConsumer;

/** The README's reader examples: the Java twins of the Go doc's hand-written readers. */
public final class Readers {
    private Readers() {}

    // snippet:start fixed-length
    /** Reads 128-byte messages; a short read at end of stream throws EOFException and ends the connection. */
    static void fixedLengthReader(Sender sender, Connection conn) throws IOException {
        byte[] message = conn.readBytes(128);
        sender.put(message); // handle the message...
    }
    // snippet:end

    // snippet:start length-prefixed
    /** Reads a 4-byte big-endian length, then that many bytes (at most 10 MiB). */
    static void lengthPrefixedReader(Sender sender, Connection conn) throws IOException {
        long length = conn.readUnsignedInt();
        if (length == 0 || length > 10 << 20) {
            throw new ProtocolException("bad frame length " + length); // ends this connection only
        }
        byte[] body = conn.readBytes((int) length);
        sender.put(body); // handle the message...
    }
    // snippet:end

    // snippet:start relay
    /** Echoes each length-prefixed frame (at most 1 MiB): its header, then its body, relayed. */
    static void relayingReader(Sender sender, Connection conn) throws IOException {
        int length = conn.readInt();
        if (length < 0 || length > 1 << 20) {
            throw new ProtocolException("bad frame length " + length);
        }
        byte[] header = ByteBuffer.allocate(4).putInt(length).array();
        sender.relay(conn, header, length); // the header, then conn's next `length` bytes, as one message
    }
    // snippet:end

    // snippet:start heartbeat
    /** Expects a 4-byte message at least every 15s + 5s grace; silence ends the connection. */
    static void heartbeatReader(Sender sender, Connection conn) throws IOException {
        conn.readTimeout(Duration.ofSeconds(15).plusSeconds(5)); // each read waits at most 20s
        int message = conn.readInt(); // throws ReadTimeoutException after 20s of silence
        // handle the message or heartbeat...
    }
    // snippet:end

    /** Same as {@link #heartbeatReader}, but answers silence with a ping instead of closing. */
    static void pingingReader(Sender sender, Connection conn) throws IOException {
        conn.readTimeout(Duration.ofSeconds(15));
        try {
            conn.readInt();
        } catch (ReadTimeoutException e) {
            sender.put(new byte[] {0, 0, 0, 0}); // ping; the connection stays usable
        }
    }

    // snippet:start custom-meta
    /** Log fields for every line about the connection, set once the peer is known. */
    record UserMeta(String remoteAddress, String userId, String sessionId) implements MetaInfo {
        @Override
        public void forEachField(BiConsumer<String, Object> field) {
            field.accept("remoteAddr", remoteAddress);
            field.accept("userId", userId);
            field.accept("sessionId", sessionId);
        }
    }

    static final ConnectionReader LOGIN_THEN_ECHO = (sender, conn) -> {
        boolean login = !(conn.metaInfo() instanceof UserMeta); // first message: the handshake
        int length = conn.readInt();
        if (length < 0 || length > (login ? 64 : 1 << 20)) { // the peer chooses the length: bound it
            throw new ProtocolException("bad frame length " + length);
        }
        byte[] body = conn.readBytes(length);
        if (login) {
            String user = new String(body, java.nio.charset.StandardCharsets.US_ASCII);
            if (!user.matches("[A-Za-z0-9._@-]+")) { // it goes into every log line: no line breaks, no escapes
                throw new ProtocolException("bad user name");
            }
            sender.metaInfo(new UserMeta(conn.metaInfo().remoteAddress(), user, "session-" + conn.id()));
        } else {
            sender.put(body); // every log line now carries userId and sessionId
        }
    };
    // snippet:end

    // snippet:start business-close
    /** Closes the connection from the reader when a message asks for it. */
    static void businessReader(Sender sender, Connection conn) throws IOException {
        int length = conn.readInt();
        if (length < 0 || length > 1 << 20) { // the peer chooses the length: bound it
            throw new ProtocolException("bad frame length " + length);
        }
        byte[] message = conn.readBytes(length);
        if (message.length == 4 && new String(message).equals("QUIT")) {
            sender.closeAfterFlush(Duration.ofSeconds(1)); // write what is queued, then close
            return; // the reader is not called again: the exit hooks run
        }
        sender.put(message);
    }
    // snippet:end
}
