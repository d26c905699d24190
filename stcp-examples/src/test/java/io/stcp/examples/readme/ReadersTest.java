package io.stcp.examples.readme;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.CloseReason;
import io.stcp.ConnectionHook;
import io.stcp.ConnectionReader;
import io.stcp.ConnectionRegistry;
import io.stcp.Sender;
import io.stcp.framing.DelimiterReader;
import io.stcp.test.TestConnection;
import java.net.ProtocolException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The README's readers, tested with the test kit: no sockets. */
class ReadersTest {

    // snippet:start length-prefixed-test
    @Test
    void aFrameSplitInPiecesIsReadWholeAndABadLengthEndsTheConnection() throws Exception {
        try (TestConnection peer = TestConnection.start(Readers::lengthPrefixedReader)) {
            peer.feed(new byte[] {0, 0, 0, 5, 'h', 'e'}, new byte[] {'l', 'l', 'o'}); // one frame, two reads
            assertThat(peer.readText(5)).isEqualTo("hello"); // the reader put the body

            peer.feed(new byte[] {0, 0, 0, 0}); // a zero length: a protocol error
            assertThat(peer.awaitClose()).isEqualTo(CloseReason.PROTOCOL_ERROR);
            assertThat(peer.closeCause()).isInstanceOf(ProtocolException.class).hasMessage("bad frame length 0");
        }
    }
    // snippet:end

    // snippet:start registry-test
    @Test
    void whatOneSaysReachesTheRoomAndTheRoomHearsWhoLeft() throws Exception {
        ConnectionRegistry registry = ConnectionRegistry.create();
        ConnectionReader chat = DelimiterReader.builder().lines().build((me, line) -> {
            String[] w = new String(line, UTF_8).split(" ", 2); // "nick NAME", "join ROOM", "say TEXT"
            switch (w[0]) {
                case "nick" -> registry.bindUser(me, w[1]);
                case "join" -> {
                    registry.joinGroup(me, w[1]);
                    me.put(("joined " + w[1] + "\n").getBytes(UTF_8));
                }
                case "say" -> registry.groupsOf(me).forEach(room ->
                        registry.sendToGroup(room, (registry.userOf(me) + ": " + w[1] + "\n").getBytes(UTF_8)));
                default -> throw new ProtocolException("unknown command");
            }
        });
        ConnectionHook tellTheRooms = me -> registry.groupsOf(me) // an exit hook still sees the bindings
                .forEach(room -> registry.sendToGroup(room, (registry.userOf(me) + " left\n").getBytes(UTF_8)));
        TestConnection.Builder member = TestConnection.builder(chat).registry(registry).onConnectionExit(tellTheRooms);
        try (TestConnection alice = member.start(); TestConnection bob = member.start()) {
            alice.feed("nick alice\njoin lobby\n");
            bob.feed("nick bob\njoin lobby\n");
            assertThat(alice.readText(13)).isEqualTo("joined lobby\n");
            assertThat(bob.readText(13)).isEqualTo("joined lobby\n");

            bob.feed("say hi\n"); // a fan-out: through every member's sender to its peer
            assertThat(alice.readText(8)).isEqualTo("bob: hi\n");
            assertThat(bob.readText(8)).isEqualTo("bob: hi\n");

            bob.endInput(); // bob hangs up: his exit hook tells the room, then he leaves the registry
            assertThat(bob.awaitClose()).isEqualTo(CloseReason.PEER_CLOSED);
            assertThat(alice.readText(9)).isEqualTo("bob left\n");
            assertThat(registry.user("bob")).isEmpty();
            assertThat(registry.group("lobby")).containsExactly(alice.sender());
        }
    }
    // snippet:end

    @Test
    void aSecondLoginOfANameTakesOverFromTheFirst() throws Exception {
        ConnectionRegistry registry = ConnectionRegistry.create();
        // snippet:start exclusive-login
        ConnectionReader login = DelimiterReader.builder().lines().build((me, line) -> {
            String name = new String(line, UTF_8); // a line: the name to log in as
            // a second login takes over from the first: bound in one step, the others unbound
            for (Sender old : registry.bindUserExclusively(me, name)) {
                old.close(); // does not wait: it ends, its exit hooks run, it leaves the registry
            }
            me.put(("welcome " + name + "\n").getBytes(UTF_8));
        });
        // snippet:end
        TestConnection.Builder client = TestConnection.builder(login).registry(registry);
        try (TestConnection first = client.start(); TestConnection second = client.start()) {
            first.feed("alice\n");
            assertThat(first.readText(14)).isEqualTo("welcome alice\n");
            second.feed("alice\n");
            assertThat(second.readText(14)).isEqualTo("welcome alice\n");
            assertThat(first.awaitClose()).isEqualTo(CloseReason.CLOSED);
            assertThat(registry.user("alice")).containsExactly(second.sender());
            assertThat(registry.sendToUser("alice", "hi\n".getBytes(UTF_8)).accepted()).isEqualTo(1);
            assertThat(second.readText(3)).isEqualTo("hi\n");
        }
    }

    @Test
    void theRelayingReaderEchoesFramesWhateverTheirSize() throws Exception {
        try (TestConnection peer = TestConnection.start(Readers::relayingReader)) {
            for (int size : new int[] {0, 5, 16_380, 70_000}) {
                byte[] frame = ByteBuffer.allocate(4 + size).putInt(size).array();
                Arrays.fill(frame, 4, frame.length, (byte) size);
                peer.feed(Arrays.copyOfRange(frame, 0, 4 + size / 2), Arrays.copyOfRange(frame, 4 + size / 2, frame.length));
                assertThat(peer.read(frame.length)).as("a frame of %d bytes", size).isEqualTo(frame);
            }
            peer.feed(new byte[] {-1, 0, 0, 0}); // a negative length: a protocol error
            assertThat(peer.awaitClose()).isEqualTo(CloseReason.PROTOCOL_ERROR);
        }
    }

    @Test
    void aLoginNameLongerThan64BytesEndsTheConnectionBeforeItIsKept() throws Exception {
        try (TestConnection peer = TestConnection.start(Readers.LOGIN_THEN_ECHO)) {
            peer.feed(frame(new byte[65])); // a user name of 65 bytes: too long to keep for the connection's life
            assertThat(peer.awaitClose()).isEqualTo(CloseReason.PROTOCOL_ERROR);
            assertThat(peer.closeCause()).isInstanceOf(ProtocolException.class).hasMessage("bad frame length 65");
        }
        try (TestConnection peer = TestConnection.start(Readers.LOGIN_THEN_ECHO)) {
            peer.feed(frame("alice".getBytes()), frame("hi".getBytes()));
            assertThat(peer.readText(2)).isEqualTo("hi"); // logged in, then echoed
            assertThat(peer.connection().metaInfo()).isInstanceOf(Readers.UserMeta.class);
            peer.feed(new byte[] {0x7f, -1, -1, -1}); // 2 GiB announced: refused before a byte of it is read
            assertThat(peer.awaitClose()).isEqualTo(CloseReason.PROTOCOL_ERROR);
        }
    }

    /** The name goes into every log line about the connection: one that would forge a line is refused. */
    @Test
    void aLoginNameWithALineBreakOrAnyControlCharacterIsRefused() throws Exception {
        for (String name : new String[] {"alice\n12:00:00.000 WARN  forged", "bob\u001b[2J", "", "caf\u00e9"}) {
            try (TestConnection peer = TestConnection.start(Readers.LOGIN_THEN_ECHO)) {
                peer.feed(frame(name.getBytes(UTF_8)));
                assertThat(peer.awaitClose()).as(name).isEqualTo(CloseReason.PROTOCOL_ERROR);
                assertThat(peer.closeCause()).hasMessage("bad user name");
                assertThat(peer.connection().metaInfo()).isNotInstanceOf(Readers.UserMeta.class);
            }
        }
    }

    @Test
    void theBusinessReaderRefusesALengthAbove1MiB() throws Exception {
        try (TestConnection peer = TestConnection.start(Readers::businessReader)) {
            peer.feed(frame("QUIT".getBytes()));
            assertThat(peer.awaitClose()).isEqualTo(CloseReason.CLOSED);
        }
        try (TestConnection peer = TestConnection.start(Readers::businessReader)) {
            peer.feed(ByteBuffer.allocate(4).putInt((1 << 20) + 1).array());
            assertThat(peer.awaitClose()).isEqualTo(CloseReason.PROTOCOL_ERROR);
            assertThat(peer.closeCause()).isInstanceOf(ProtocolException.class).hasMessage("bad frame length 1048577");
        }
    }

    private static byte[] frame(byte[] body) {
        return ByteBuffer.allocate(4 + body.length).putInt(body.length).put(body).array();
    }
}
