package io.stcp.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.InputStreamReader;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** {@code echo --metrics-port 0} as a user runs it: known traffic, then a real Prometheus scrape over HTTP. */
class EchoMetricsTest {
    private static final Pattern LISTENING = Pattern.compile("echo.listening address=\"?/?127\\.0\\.0\\.1:(\\d+)");
    private static final Pattern METRICS = Pattern.compile("echo.metrics url=\"?(http://127\\.0\\.0\\.1:\\d+/metrics)");
    private static final Pattern SAMPLE = Pattern.compile("^(\\w+)(\\{[^}]*})? (\\S+)$");

    @Test
    void theScrapeCountsTheConnectionsBytesAndMessagesThatWereSent() throws Exception {
        Process p = echo("--addr", "127.0.0.1:0", "--metrics-port", "0");
        try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build()) {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()));
            int port = -1;
            String url = null;
            for (String line; (port < 0 || url == null) && (line = out.readLine()) != null; ) {
                Matcher m = LISTENING.matcher(line);
                if (m.find()) {
                    port = Integer.parseInt(m.group(1));
                }
                Matcher u = METRICS.matcher(line);
                if (u.find()) {
                    url = u.group(1);
                }
            }
            assertThat(port).as("the INFO line with the bound address").isPositive();
            assertThat(url).as("the INFO line with the metrics endpoint, on loopback").isNotNull();

            try (Socket s = new Socket("127.0.0.1", port)) { // three 3-byte frames, echoed
                s.setSoTimeout(10_000);
                DataOutputStream o = new DataOutputStream(s.getOutputStream());
                DataInputStream i = new DataInputStream(s.getInputStream());
                for (int n = 0; n < 3; n++) {
                    o.writeInt(3);
                    o.write(new byte[] {1, 2, (byte) n});
                    o.flush();
                    assertThat(i.readInt()).isEqualTo(3);
                    assertThat(i.readNBytes(3)).containsExactly(1, 2, n);
                }
            }
            try (Socket bad = new Socket("127.0.0.1", port)) { // an oversized length: PROTOCOL_ERROR
                bad.setSoTimeout(10_000);
                new DataOutputStream(bad.getOutputStream()).writeInt(Integer.MAX_VALUE);
                assertThat(bad.getInputStream().read()).isEqualTo(-1);
            }

            HttpRequest get = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).GET().build();
            Map<String, Double> samples = new HashMap<>();
            // The server counts an end once the connection's exit hooks have run, a moment after the
            // client sees its socket closed, and frees its slot a moment later still: scrape until
            // both ends are counted and no connection is live.
            Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(() -> {
                HttpResponse<String> r = http.send(get, HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).isEqualTo(200);
                assertThat(r.headers().firstValue("Content-Type")).hasValue(MetricsEndpoint.CONTENT_TYPE);
                samples.clear();
                samples.putAll(parse(r.body()));
                return samples.getOrDefault("stcp_connections_closed_total{reason=\"PEER_CLOSED\",server=\"echo\"}", 0.0)
                        + samples.getOrDefault("stcp_connections_closed_total{reason=\"PROTOCOL_ERROR\",server=\"echo\"}", 0.0)
                        == 2 && samples.getOrDefault("stcp_connections_active{server=\"echo\"}", -1.0) == 0;
            });
            assertThat(samples)
                    .containsEntry("stcp_connections_active{server=\"echo\"}", 0.0)
                    .containsEntry("stcp_connections_accepted_total{server=\"echo\"}", 2.0)
                    .containsEntry("stcp_connections_closed_total{reason=\"PEER_CLOSED\",server=\"echo\"}", 1.0)
                    .containsEntry("stcp_connections_closed_total{reason=\"PROTOCOL_ERROR\",server=\"echo\"}", 1.0)
                    .containsEntry("stcp_connections_closed_total{reason=\"WRITE_TIMEOUT\",server=\"echo\"}", 0.0)
                    .containsEntry("stcp_connections_rejected_total{reason=\"maxConn\",server=\"echo\"}", 0.0)
                    .containsEntry("stcp_received_messages_total{server=\"echo\"}", 3.0)
                    .containsEntry("stcp_sent_messages_total{server=\"echo\"}", 3.0)
                    .containsEntry("stcp_received_bytes_total{server=\"echo\"}", 3 * 7 + 4.0)
                    .containsEntry("stcp_sent_bytes_total{server=\"echo\"}", 3 * 7.0)
                    .containsEntry("stcp_queue_messages{server=\"echo\"}", 0.0)
                    .containsEntry("stcp_queue_discarded_total{server=\"echo\"}", 0.0)
                    .containsEntry("stcp_queue_direct_used_bytes", 0.0) // nothing large was queued
                    .hasEntrySatisfying("stcp_queue_direct_limit_bytes", limit -> assertThat(limit).isPositive());

            p.destroy(); // SIGTERM: the endpoint stops with the server, the JVM exits 0
            assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).isZero();
        } finally {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /**
     * On IPv6 loopback the two INFO lines name addresses a user can use as printed: the listening
     * address in brackets ({@code [0:0:0:0:0:0:0:1]:PORT}, not {@code 0:0:0:0:0:0:0:1:PORT}, whose
     * port cannot be told from the address), and a metrics URL that a client can fetch.
     */
    @Test
    void onIpv6TheListeningAddressAndTheMetricsUrlAreUsableAsPrinted() throws Exception {
        Process p = echo("--addr", "[::1]:0", "--metrics-host", "::1", "--metrics-port", "0");
        Pattern listening = Pattern.compile("echo.listening address=\"?([^\"\\s]+)");
        Pattern metrics = Pattern.compile("echo.metrics url=\"?([^\"\\s]+)");
        try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build()) {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()));
            String address = null;
            String url = null;
            for (String line; (address == null || url == null) && (line = out.readLine()) != null; ) {
                Matcher m = listening.matcher(line);
                if (m.find()) {
                    address = m.group(1);
                }
                Matcher u = metrics.matcher(line);
                if (u.find()) {
                    url = u.group(1);
                }
            }
            assertThat(address).as("the INFO line with the bound address").matches("\\[0:0:0:0:0:0:0:1]:\\d+");
            assertThat(url).as("the INFO line with the metrics endpoint").isNotNull();

            try (Socket s = new Socket("::1", Integer.parseInt(address.substring(address.lastIndexOf(':') + 1)))) {
                s.setSoTimeout(10_000);
                new DataOutputStream(s.getOutputStream()).write(new byte[] {0, 0, 0, 1, 7});
                assertThat(new DataInputStream(s.getInputStream()).readNBytes(5)).containsExactly(0, 0, 0, 1, 7);
            }
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10))
                    .GET().build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).contains("stcp_connections_accepted_total{server=\"echo\"}");

            p.destroy();
            assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).isZero();
        } finally {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /**
     * {@code echo} with {@code options}, in a JVM of its own, its output merged. Reads of its output
     * block until a line comes: a child that never prints it is ended after 60 s, and they return null.
     */
    private static Process echo(String... options) throws Exception {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(), "-cp",
                System.getProperty("java.class.path"), "io.stcp.examples.Main", "echo"));
        command.addAll(List.of(options));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        CompletableFuture.delayedExecutor(60, TimeUnit.SECONDS).execute(p::destroyForcibly);
        return p;
    }

    /** The samples of a Prometheus text exposition: name and labels as written, to value. */
    private static Map<String, Double> parse(String text) {
        Map<String, Double> samples = new HashMap<>();
        for (String line : text.split("\n")) {
            Matcher m = SAMPLE.matcher(line);
            if (!line.startsWith("#") && m.matches()) {
                samples.put(m.group(1) + (m.group(2) == null ? "" : m.group(2)), Double.parseDouble(m.group(3)));
            }
        }
        return samples;
    }
}
