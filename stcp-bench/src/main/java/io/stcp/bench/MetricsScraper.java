package io.stcp.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Scrapes a server's Prometheus endpoint ({@code http://127.0.0.1:PORT/metrics}) at a fixed
 * interval from this JVM while a run lasts, as a monitoring system would: what a server with
 * metrics on pays for them is then in its figures. A variant asks for it by holding {@link #PORT}
 * in its arguments, which the comparison replaces with a free port.
 */
final class MetricsScraper implements AutoCloseable {
    /** The placeholder of a variant's metrics port. */
    static final String PORT = "{metrics-port}";

    private final CountDownLatch stop = new CountDownLatch(1);
    private final AtomicInteger scrapes = new AtomicInteger();
    private volatile String lastError = "no scrape yet";
    private final Thread thread;

    private MetricsScraper(int port, Duration interval) {
        HttpRequest get = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                .timeout(Duration.ofSeconds(5)).GET().build();
        thread = Thread.ofPlatform().daemon().name("metrics-scraper-" + port).start(() -> {
            try (HttpClient http = HttpClient.newHttpClient()) {
                do {
                    try {
                        HttpResponse<String> r = http.send(get, HttpResponse.BodyHandlers.ofString());
                        if (r.statusCode() == 200 && r.body().contains("stcp_connections_active")) {
                            scrapes.incrementAndGet();
                        } else {
                            lastError = "HTTP " + r.statusCode();
                        }
                    } catch (java.io.IOException e) {
                        lastError = e.toString();
                    }
                } while (!stop.await(interval.toNanos(), TimeUnit.NANOSECONDS));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    /** Scrapes now and then every {@code interval} until closed. */
    static MetricsScraper start(int port, Duration interval) {
        return new MetricsScraper(port, interval);
    }

    /** Scrapes that returned stcp's meters. */
    int scrapes() {
        return scrapes.get();
    }

    String lastError() {
        return lastError;
    }

    @Override
    public void close() {
        stop.countDown();
        try {
            thread.join(Duration.ofSeconds(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
