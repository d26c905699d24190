package io.stcp.cluster.internal;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * One cluster message as it travels on the bus: who sent it, to whom (a user, a group, everyone),
 * under which key, and the payload, byte for byte.
 *
 * <pre>
 * 0      2     3      4       5          6+o         8+o        8+o+t      ...      +4         +p
 * +------+-----+------+-------+----------+-----------+----------+----------+--------+----------+
 * | 'S'  | ver | kind | key   | origin   | origin    | target   | target   | key    | payload  |
 * | 'C'  |  1  | 1..3 | 0..2  | len (u8) | (UTF-8)   | len(u16) | (UTF-8)  | (0/4/  | len(u32) |
 * |      |     |      |       |          |           |          |          | 2+n)   | + bytes  |
 * +------+-----+------+-------+----------+-----------+----------+----------+--------+----------+
 * kind: 1 user, 2 group, 3 all (target length 0). key: 0 none; 1 int (4 bytes, big endian);
 * 2 string (u16 length + UTF-8). The payload runs to the end of the message exactly.
 * </pre>
 *
 * <p>{@link #decode} trusts nothing: every length is checked against the bytes actually there
 * and against the limits, names must be valid UTF-8, nothing may follow the payload. A message
 * that fails any check is refused whole ({@link Malformed}).
 */
public record Envelope(Kind kind, String origin, String target, KeyType keyType, int intKey, @Nullable String stringKey, byte[] payload) {

    /** Version 1 of this layout. */
    static final byte VERSION = 1;
    private static final byte MAGIC0 = 'S';
    private static final byte MAGIC1 = 'C';
    /** The longest origin node id, in bytes. */
    static final int MAX_ORIGIN = 64;
    /** The longest user id, group name or string key, in UTF-8 bytes. */
    public static final int MAX_NAME = 0xFFFF;
    /**
     * The most bytes around the payload: the fixed fields (5), the origin (1 + {@value #MAX_ORIGIN}),
     * a target and a string key of {@value #MAX_NAME} bytes each (2 + 2 + 2 × {@value #MAX_NAME}),
     * the payload length (4): 131,148 bytes.
     */
    public static final int MAX_HEADER = 5 + 1 + MAX_ORIGIN + 2 + MAX_NAME + 2 + MAX_NAME + 4;

    /** The longest valid envelope whose payload is at most {@code maxPayload} bytes: anything longer is malformed. */
    public static long maxLength(int maxPayload) {
        return (long) MAX_HEADER + maxPayload;
    }

    /** To whom. */
    public enum Kind { USER, GROUP, ALL }

    /** Which send form. */
    public enum KeyType { NONE, INT, STRING }

    /** A message the decoder refused; the reason is the message. Cheap: no stack trace. */
    public static final class Malformed extends Exception {
        private static final long serialVersionUID = 1L;

        Malformed(String reason) {
            super(reason, null, false, false);
        }
    }

    /**
     * The bytes of this envelope.
     *
     * @throws IllegalArgumentException if a name or key is longer than {@value #MAX_NAME} UTF-8 bytes
     */
    public byte[] encode() {
        byte[] o = origin.getBytes(StandardCharsets.UTF_8);
        byte[] t = target.getBytes(StandardCharsets.UTF_8);
        byte[] k = stringKey == null ? null : stringKey.getBytes(StandardCharsets.UTF_8);
        if (o.length > MAX_ORIGIN) {
            throw new IllegalArgumentException("origin: " + o.length + " bytes (expected: <= " + MAX_ORIGIN + ")");
        }
        if (t.length > MAX_NAME) {
            throw new IllegalArgumentException("name: " + t.length + " UTF-8 bytes (expected: <= " + MAX_NAME + ")");
        }
        if (k != null && k.length > MAX_NAME) {
            throw new IllegalArgumentException("key: " + k.length + " UTF-8 bytes (expected: <= " + MAX_NAME + ")");
        }
        int keyLen = switch (keyType) {
            case NONE -> 0;
            case INT -> 4;
            case STRING -> 2 + k.length;
        };
        ByteBuffer b = ByteBuffer.allocate(5 + 1 + o.length + 2 + t.length + keyLen + 4 + payload.length);
        b.put(MAGIC0).put(MAGIC1).put(VERSION).put((byte) (kind.ordinal() + 1)).put((byte) keyType.ordinal());
        b.put((byte) o.length).put(o);
        b.putShort((short) t.length).put(t);
        switch (keyType) {
            case NONE -> { }
            case INT -> b.putInt(intKey);
            case STRING -> b.putShort((short) k.length).put(k);
        }
        b.putInt(payload.length).put(payload);
        return b.array();
    }

    /**
     * Reads an envelope from {@code bytes}, whose payload may be at most {@code maxPayload} bytes.
     *
     * @throws Malformed if anything about it is wrong
     */
    public static Envelope decode(byte[] bytes, int maxPayload) throws Malformed {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        need(b, 6, "header");
        if (b.get() != MAGIC0 || b.get() != MAGIC1) {
            throw new Malformed("not an stcp cluster message (magic)");
        }
        byte version = b.get();
        if (version != VERSION) {
            throw new Malformed("version " + version + " (expected: " + VERSION + ")");
        }
        int kindCode = b.get();
        if (kindCode < 1 || kindCode > 3) {
            throw new Malformed("kind " + kindCode + " (expected: 1 to 3)");
        }
        Kind kind = Kind.values()[kindCode - 1];
        int keyCode = b.get();
        if (keyCode < 0 || keyCode > 2) {
            throw new Malformed("key type " + keyCode + " (expected: 0 to 2)");
        }
        KeyType keyType = KeyType.values()[keyCode];
        int originLen = b.get() & 0xFF;
        if (originLen == 0 || originLen > MAX_ORIGIN) {
            throw new Malformed("origin length " + originLen + " (expected: 1 to " + MAX_ORIGIN + ")");
        }
        String origin = utf8(b, originLen, "origin");
        need(b, 2, "target length");
        int targetLen = b.getShort() & 0xFFFF;
        if ((kind == Kind.ALL) != (targetLen == 0)) {
            throw new Malformed("target length " + targetLen + " for kind " + kind);
        }
        String target = utf8(b, targetLen, "target");
        int intKey = 0;
        String stringKey = null;
        switch (keyType) {
            case NONE -> { }
            case INT -> {
                need(b, 4, "int key");
                intKey = b.getInt();
            }
            case STRING -> {
                need(b, 2, "key length");
                stringKey = utf8(b, b.getShort() & 0xFFFF, "key");
            }
        }
        need(b, 4, "payload length");
        int payloadLen = b.getInt();
        if (payloadLen < 0 || payloadLen > maxPayload) {
            throw new Malformed("payload length " + Integer.toUnsignedString(payloadLen) + " (expected: <= " + maxPayload + ")");
        }
        if (b.remaining() != payloadLen) {
            throw new Malformed("payload length " + payloadLen + " but " + b.remaining() + " bytes follow");
        }
        byte[] payload = new byte[payloadLen];
        b.get(payload);
        return new Envelope(kind, origin, target, keyType, intKey, stringKey, payload);
    }

    /**
     * Whether {@code bytes} is a broadcast ({@link Kind#ALL}) sent by the node whose id is
     * {@code origin} (UTF-8): a look at the header only, nothing else is checked.
     */
    public static boolean isBroadcastFrom(byte[] bytes, byte[] origin) {
        int end = 6 + origin.length;
        return bytes.length >= end && bytes[0] == MAGIC0 && bytes[1] == MAGIC1 && bytes[2] == VERSION
                && bytes[3] == Kind.ALL.ordinal() + 1 && (bytes[5] & 0xFF) == origin.length
                && Arrays.equals(bytes, 6, end, origin, 0, origin.length);
    }

    private static void need(ByteBuffer b, int n, String what) throws Malformed {
        if (b.remaining() < n) {
            throw new Malformed("truncated in the " + what + " (" + b.remaining() + " of " + n + " bytes)");
        }
    }

    private static String utf8(ByteBuffer b, int len, String what) throws Malformed {
        need(b, len, what);
        ByteBuffer slice = b.slice(b.position(), len);
        b.position(b.position() + len);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(slice).toString();
        } catch (CharacterCodingException e) {
            throw new Malformed(what + " is not valid UTF-8");
        }
    }
}
