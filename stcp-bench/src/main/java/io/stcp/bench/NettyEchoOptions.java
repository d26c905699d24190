package io.stcp.bench;

import java.util.List;
import picocli.CommandLine.Option;

/**
 * How the commands that measure stcp against Netty run Netty's echo: with an idle timeout, as stcp's
 * echo has by default, so that both servers pay for one (for the CPU per message and for the
 * memory an idle connection holds).
 */
final class NettyEchoOptions {
    @Option(names = "--netty-read-idle-seconds", defaultValue = "300", description = "Netty's echo closes a connection"
            + " that sends nothing for this long (its ReadTimeoutHandler), as stcp's echo does by default (5 minutes);"
            + " 0: none, as before 2026-12-05 (default: ${DEFAULT-VALUE}).")
    int readIdleSeconds;

    /** The arguments for {@code netty-echo}; throws if an option is out of range. */
    List<String> arguments() {
        if (readIdleSeconds < 0) {
            throw new IllegalArgumentException("--netty-read-idle-seconds: " + readIdleSeconds + " (expected: >= 0)");
        }
        return List.of("--read-idle-seconds", Integer.toString(readIdleSeconds));
    }
}
