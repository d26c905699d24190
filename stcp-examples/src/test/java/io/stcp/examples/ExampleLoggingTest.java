package io.stcp.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The examples' logback configurations as a user sees them: with STCP_LOG_LEVEL=DEBUG a
 * connection's lines carry its id and address, as text key-values or as JSON.
 */
class ExampleLoggingTest {
    private static final Pattern PORT = Pattern.compile("127\\.0\\.0\\.1:(\\d+)");

    @Test
    void theTextConfigurationPrintsTheKeyValuesOfConnectionLines() throws Exception {
        String start = connectOnceAndFind(List.of(), "conn.start");
        assertThat(start).matches(".* DEBUG io.stcp.connection conn.start conn=\"\\d+\" remoteAddr=\"127\\.0\\.0\\.1:\\d+\"");
    }

    @Test
    void theJsonConfigurationPutsThemInEachObject() throws Exception {
        String start = connectOnceAndFind(List.of("-Dlogback.configurationFile=logback-json.xml"), "conn.start");
        assertThat(start).startsWith("{").contains("\"level\":\"DEBUG\"").contains("\"message\":\"conn.start\"")
                .containsPattern("\"conn\":\\s*\"\\d+\"").containsPattern("\"remoteAddr\":\\s*\"127\\.0\\.0\\.1:\\d+\"");
    }

    /** Runs echo at DEBUG with {@code jvmOptions}, connects once, and returns the first line naming {@code event}. */
    private static String connectOnceAndFind(List<String> jvmOptions, String event) throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> command = new ArrayList<>(List.of(java));
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.stcp.examples.Main", "echo",
                "--addr", "127.0.0.1:0"));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("STCP_LOG_LEVEL", "DEBUG");
        Process p = pb.start();
        // The reads below block until a line comes: a child that never prints it is ended, and they return null.
        CompletableFuture.delayedExecutor(30, TimeUnit.SECONDS).execute(p::destroyForcibly);
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()));
            int port = -1;
            for (String line; port < 0 && (line = out.readLine()) != null; ) {
                Matcher m = PORT.matcher(line);
                if (line.contains("echo.listening") && m.find()) {
                    port = Integer.parseInt(m.group(1));
                }
            }
            assertThat(port).as("the INFO line with the bound address").isPositive();
            try (Socket s = new Socket("127.0.0.1", port)) {
                for (String line; (line = out.readLine()) != null; ) {
                    if (line.contains(event)) {
                        return line;
                    }
                }
            }
            throw new AssertionError("no " + event + " line before the output ended");
        } finally {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
