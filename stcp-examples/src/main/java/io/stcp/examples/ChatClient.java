package io.stcp.examples;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.stcp.ClientConfig;
import io.stcp.SenderFactory;
import io.stcp.TcpClient;
import io.stcp.TlsConfig;
import io.stcp.framing.DelimiterReader;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * A {@link ChatServer} client on a {@link TcpClient}: when the connection drops it reconnects with
 * back-off, and on every connection it logs in again and rejoins its rooms. Lines typed while it
 * is reconnecting wait in the client's offline queue (up to 100) and go out after the login.
 */
public final class ChatClient implements AutoCloseable {
    private static final Duration CLOSE_GRACE = Duration.ofSeconds(2);

    private final TcpClient client;
    private final Consumer<String> out;
    private final Set<String> rooms = ConcurrentHashMap.newKeySet();

    /**
     * Connects to {@code address} as {@code nick}; every line from the server goes to {@code out},
     * as do notes about the connection ({@code ~ ...}).
     */
    public ChatClient(String address, String nick, Consumer<String> out) {
        this(address, null, nick, out);
    }

    /**
     * Connects to {@code address} as {@code nick}, over TLS when {@code tls} (a client's config,
     * {@link TlsConfig#clientBuilder()}) is not null.
     */
    public ChatClient(String address, @Nullable TlsConfig tls, String nick, Consumer<String> out) {
        this.out = out;
        DelimiterReader reader = DelimiterReader.builder().lines().maxLength(ChatServer.MAX_OUTPUT_LINE) // the server's longest
                .build((sender, line) -> out.accept(new String(line, UTF_8)));
        // snippet:start client
        ClientConfig config = ClientConfig.builder(address)  // "host:port" (resolved on every attempt) or "unix:PATH"
                .reconnectDelay(Duration.ofMillis(50)).reconnectMaxDelay(Duration.ofSeconds(2)) // x2 each time, jittered
                .offlineQueue(100, 64 << 10)                  // while reconnecting, keep up to 100 lines / 64 KiB
                .tls(tls)                                     // null: plain; TlsConfig.clientBuilder()...build(): TLS
                .build();
        client = TcpClient.create(config, reader, SenderFactory.queue(256))
                .onConnect(sender -> {                       // on every connection: log in, rejoin
                    sender.put(ChatServer.line("/nick " + nick));
                    for (String room : rooms) {
                        sender.put(ChatServer.line("/join " + room));
                    }
                })
                .onDisconnect((sender, reason) -> out.accept("~ disconnected (" + reason + ")"))
                .start();
        client.put(ChatServer.line("/rooms"));               // sent now, or once connected
        // snippet:end
    }

    /** Joins {@code room} now, and again on every later connection. */
    public void join(String room) {
        rooms.add(room);
        send("/join " + room);
    }

    /** Leaves {@code room}. */
    public void leave(String room) {
        rooms.remove(room);
        send("/leave " + room);
    }

    public void say(String room, String text) {
        send("/say " + room + " " + text);
    }

    public void whisper(String nick, String text) {
        send("/whisper " + nick + " " + text);
    }

    /** Sends one command line; it waits in the offline queue while the client reconnects. */
    public void send(String line) {
        client.put(ChatServer.line(line));
    }

    /** The client underneath, for its state and counters. */
    public TcpClient client() {
        return client;
    }

    /**
     * Closes gracefully, within a few seconds: lines sent while no connection was up yet (a script
     * piped to the terminal client, which ends before the first connection) wait for it, up to 2 s,
     * since a shutdown with no connection up discards the offline queue; then what is queued is
     * written. If anything could not be, a note says so on {@code out}.
     */
    @Override
    public void close() throws InterruptedException {
        client.awaitConnected(CLOSE_GRACE);
        if (!client.shutdown(CLOSE_GRACE)) {
            out.accept("~ closed before everything was sent");
        }
    }
}
