package io.stcp.bench;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code java -jar stcp-bench.jar <command>}: the benchmark rig. */
@Command(name = "stcp-bench", mixinStandardHelpOptions = true,
        description = "stcp vs Netty, side by side; idle-connection memory.",
        subcommands = {CompareCommand.class, CeilingCommand.class, IdleMemoryCommand.class, JmhCommand.class,
                NettyEchoServer.class, AttackCommand.class, BroadcastCommand.class, RegistryMemoryCommand.class,
                ClusterCommand.class})
public final class BenchMain {
    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("jmh")) { // JMH parses its own options
            JmhCommand.main(java.util.Arrays.copyOfRange(args, 1, args.length));
            return;
        }
        System.exit(new CommandLine(new BenchMain()).execute(args));
    }
}
