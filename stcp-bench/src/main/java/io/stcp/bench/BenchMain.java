package io.stcp.bench;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code java -jar stcp-bench.jar <command>}: the benchmark rig. */
@Command(name = "stcp-bench", mixinStandardHelpOptions = true,
        description = "stcp vs Netty, side by side; idle-connection memory.",
        subcommands = {CompareCommand.class, IdleMemoryCommand.class, NettyEchoServer.class})
public final class BenchMain {
    public static void main(String[] args) {
        System.exit(new CommandLine(new BenchMain()).execute(args));
    }
}
