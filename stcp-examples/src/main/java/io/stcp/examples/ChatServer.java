package io.stcp.examples;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.stcp.ConnectionRegistry;
import io.stcp.SendResult;
import io.stcp.Sender;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import io.stcp.framing.DelimiterEncoder;
import io.stcp.framing.DelimiterReader;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.time.Duration;
import java.util.Collection;
import java.util.Set;
import java.util.TreeSet;

/**
 * A chat server with rooms, on a {@link ConnectionRegistry}: each connection is bound to its nick
 * (a user: the same nick may be connected from several places) and to the rooms it joined
 * (groups). Lines of text, one command each:
 *
 * <pre>
 *   /nick NAME            who you are (first)          /rooms        the rooms that have members
 *   /join ROOM            enter a room                 /who ROOM     who is in it
 *   /leave ROOM           leave it
 *   /say ROOM TEXT        to everyone in a room you are in, you included
 *   /whisper NICK TEXT    to every connection of NICK
 * </pre>
 *
 * Replies and messages are lines too: {@code [room] nick: text}, {@code [whisper] nick: text},
 * {@code * nick joined room}, {@code * nick left room}, and {@code ! why} for a refused command.
 * When a connection ends, every room it was in is told that it left.
 *
 * <p><b>Limits</b> (peers choose every name and line, so the server bounds them): a command line
 * is at most {@value #MAX_LINE} bytes of UTF-8; nicks and rooms are at most {@value #MAX_NAME}
 * bytes; a connection is in at most {@value #MAX_ROOMS} rooms; {@code /rooms} and {@code /who}
 * list as many names as fit in {@value #MAX_LINE} bytes, then how many more there are. So no
 * line the server sends is longer than {@value #MAX_OUTPUT_LINE} bytes: a said or whispered line
 * adds the speaker's nick to what the speaker sent.
 *
 * <p>A nick is a name, not a login: anyone may take a nick that is in use (that is how one user
 * connects from several places) and then receives its whispers.
 */
public final class ChatServer implements AutoCloseable {
    private static final DelimiterEncoder LINES = DelimiterEncoder.lines();
    /** Longest command line, in bytes, line end excluded. */
    static final int MAX_LINE = 4096;
    /** Longest nick or room name, in bytes. */
    static final int MAX_NAME = 32;
    /** Longest line the server sends, line end excluded: a command line plus the speaker's nick and a few bytes. */
    static final int MAX_OUTPUT_LINE = MAX_LINE + MAX_NAME + 8;
    /** Rooms one connection may be in: a peer chooses them, so the server bounds them. */
    static final int MAX_ROOMS = 32;
    private static final Set<String> COMMANDS = Set.of("/nick", "/join", "/leave", "/say", "/whisper", "/rooms", "/who");

    private final ConnectionRegistry registry;
    private final TcpServer server;

    private ChatServer(ServerConfig config) throws IOException {
        DelimiterReader reader = DelimiterReader.builder().lines().maxLength(MAX_LINE).build(this::onLine);
        // snippet:start registry-setup
        ConnectionRegistry registry = ConnectionRegistry.create();
        TcpServer server = TcpServer.create(config, reader, SenderFactory.queue(1024))
                .registry(registry)               // connections in, with their bindings out after the exit hook
                .onConnectionExit(this::onExit)   // ...which still sees them: tell the rooms who left
                .start();
        // snippet:end
        this.registry = registry;
        this.server = server;
    }

    /** A chat server listening on {@code config}'s address, started. */
    public static ChatServer start(ServerConfig config) throws IOException {
        return new ChatServer(config);
    }

    static byte[] line(String text) {
        return LINES.encode(text.getBytes(UTF_8));
    }

    private void onLine(Sender me, byte[] bytes) {
        String input;
        try { // strict: replacing bad bytes would make the text longer than the bytes it came from
            input = UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            me.put(line("! lines are UTF-8"));
            return;
        }
        String[] w = input.split(" ", 3);
        String nick = registry.userOf(me);
        String arg = w.length > 1 ? w[1] : "";
        String text = w.length > 2 ? w[2] : "";
        if (!COMMANDS.contains(w[0])) {
            me.put(line("! unknown command " + clip(w[0])));
            return;
        }
        if (!w[0].equals("/nick") && nick == null) {
            me.put(line("! who are you? /nick NAME first"));
            return;
        }
        if (arg.isEmpty() && !w[0].equals("/rooms")) {
            me.put(line("! " + w[0] + " needs an argument"));
            return;
        }
        if (arg.getBytes(UTF_8).length > MAX_NAME) { // every argument is a nick or a room
            me.put(line("! names are at most " + MAX_NAME + " bytes"));
            return;
        }
        if (w[0].equals("/join") && registry.groupsOf(me).size() >= MAX_ROOMS) { // peers pick rooms: bound them
            me.put(line("! at most " + MAX_ROOMS + " rooms"));
            return;
        }
        if (w[0].equals("/say") && !registry.groupsOf(me).contains(arg)) { // only members speak in a room
            me.put(line("! you are not in " + arg));
            return;
        }
        switch (w[0]) {
            // snippet:start registry
            case "/nick" -> registry.bindUser(me, arg);      // a user: one nick, any number of connections
            case "/join" -> {
                if (registry.joinGroup(me, arg)) {            // a group: a room
                    registry.sendToGroup(arg, line("* " + nick + " joined " + arg));
                }
            }
            case "/say" -> registry.sendToGroup(arg, line("[" + arg + "] " + nick + ": " + text));
            case "/whisper" -> {
                SendResult r = registry.sendToUser(arg, line("[whisper] " + nick + ": " + text));
                if (r.accepted() == 0) {                     // nobody of that name, or all full or closing
                    me.put(line("! " + arg + " is not here"));
                }
            }
            // snippet:end
            case "/leave" -> {
                if (registry.leaveGroup(me, arg)) {
                    registry.sendToGroup(arg, line("* " + nick + " left " + arg));
                }
            }
            case "/rooms" -> me.put(line(list("rooms:", new TreeSet<>(registry.groups()))));
            case "/who" -> {
                TreeSet<String> nicks = new TreeSet<>();
                for (Sender s : registry.group(arg)) {
                    String n = registry.userOf(s);
                    nicks.add(n == null ? "?" : n);
                }
                me.put(line(list("in " + arg + ":", nicks)));
            }
            default -> throw new AssertionError(w[0]); // COMMANDS has no other
        }
    }

    /** {@code head} and as many of {@code names} as fit in {@link #MAX_LINE} bytes, then how many did not. */
    static String list(String head, Collection<String> names) {
        StringBuilder out = new StringBuilder(head);
        int bytes = head.getBytes(UTF_8).length;
        int left = names.size();
        for (String name : names) {
            int more = 1 + name.getBytes(UTF_8).length;
            if (bytes + more > MAX_LINE - 20) { // leaves room for " (+2147483647 more)"
                return out.append(" (+").append(left).append(" more)").toString();
            }
            out.append(' ').append(name);
            bytes += more;
            left--;
        }
        return out.toString();
    }

    /** A word the peer sent, cut to {@link #MAX_NAME} characters for a reply. */
    private static String clip(String word) {
        return word.length() <= MAX_NAME ? word : word.substring(0, MAX_NAME) + "...";
    }

    /** An exit hook still sees the connection's bindings: tell its rooms. The registry drops them right after. */
    private void onExit(Sender me) {
        String nick = registry.userOf(me);
        for (String room : registry.groupsOf(me)) {
            registry.sendToGroup(room, line("* " + nick + " left " + room));
        }
    }

    public InetSocketAddress address() {
        return server.address();
    }

    /** The registry, for tests and counters. */
    public ConnectionRegistry registry() {
        return registry;
    }

    public TcpServer server() {
        return server;
    }

    /** Closes the server and waits (10 s at most) for its connections' exit hooks. */
    @Override
    public void close() throws Exception {
        server.close();
        server.awaitTermination(Duration.ofSeconds(10));
    }
}
