package io.stcp.examples;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The examples' command line: {@code java -jar stcp-examples.jar <command>}. */
@Command(name = "stcp-examples", mixinStandardHelpOptions = true,
        description = "stcp example servers and the demo.",
        subcommands = {EchoCommand.class, DemoCommand.class, TickerCommand.class, ChatCommand.class})
public final class Main {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs a command and returns its exit code (used by tests). */
    public static int run(String... args) {
        return new CommandLine(new Main())
                .setCaseInsensitiveEnumValuesAllowed(true) // --proxy-protocol required
                .registerConverter(java.time.Duration.class, io.stcp.Durations::parse)
                .execute(args);
    }
}
