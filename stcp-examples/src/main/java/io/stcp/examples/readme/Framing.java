package io.stcp.examples.readme;

import io.stcp.Heartbeat;
import io.stcp.ServerConfig;
import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.framing.DelimiterEncoder;
import io.stcp.framing.DelimiterReader;
import io.stcp.framing.LengthFieldEncoder;
import io.stcp.framing.LengthFieldReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** The README's framing and timeout samples. */
final class Framing {
    private Framing() {}

    static TcpServer lengthFieldEcho(ServerConfig config) {
        // snippet:start length-field
        LengthFieldEncoder encoder = LengthFieldEncoder.standard(); // 4-byte big-endian length
        LengthFieldReader reader = LengthFieldReader.builder()
                .lengthFieldLength(4)
                .maxFrameLength(1 << 20) // a larger header closes that connection, before any allocation
                .build((sender, body) -> sender.put(encoder.encode(body)));
        TcpServer server = TcpServer.create(config, reader, SenderFactory.queue(1024));
        // snippet:end
        return server;
    }

    static TcpServer lineChat(ServerConfig config) {
        // snippet:start lines
        DelimiterEncoder lines = DelimiterEncoder.lines();
        DelimiterReader reader = DelimiterReader.builder()
                .lines()          // "\n" or "\r\n"
                .maxLength(4096)  // longer lines fail with FrameTooLongException
                .build((sender, line) -> {
                    String text = new String(line, StandardCharsets.UTF_8);
                    sender.put(lines.encode(("you said: " + text).getBytes(StandardCharsets.UTF_8)));
                });
        TcpServer server = TcpServer.create(config, reader, SenderFactory.queue(256));
        // snippet:end
        return server;
    }

    static TcpServer guarded(LengthFieldReader reader) {
        // snippet:start timeouts
        ServerConfig config = ServerConfig.builder()
                .address(":9000")
                .firstFrameTimeout(Duration.ofSeconds(5)) // slowloris: no complete first frame in 5s
                .frameTimeout(Duration.ofSeconds(10))     // a frame, once begun, done within 10s
                .readIdleTimeout(Duration.ofSeconds(60))  // silent for a minute
                .writeTimeout(Duration.ofSeconds(5))      // peer stopped reading
                .build();
        byte[] ping = LengthFieldEncoder.standard().encode(new byte[0]); // an empty frame
        TcpServer server = TcpServer.create(config, reader, SenderFactory.queue(1024))
                .onConnectionStart(Heartbeat.every(Duration.ofSeconds(15), ping)); // after 15s of write silence
        // snippet:end
        return server;
    }
}
