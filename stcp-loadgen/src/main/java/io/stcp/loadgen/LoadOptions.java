package io.stcp.loadgen;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * What {@link LoadGenerator} does: {@code connections} connections to {@code host:port}, each
 * keeping {@code inFlight} frames outstanding, for {@code warmup} (not recorded) and then
 * {@code duration} (recorded).
 *
 * @param host             server host
 * @param port             server port
 * @param connections      number of connections, at least 1
 * @param inFlight         frames outstanding per connection, at least 1
 * @param payloadSize      bytes after the 4-byte length header, at least 8 (a send timestamp)
 * @param duration         measured window, positive
 * @param warmup           unmeasured warm-up, zero or positive
 * @param sourceAddresses  local addresses to bind, round-robin (e.g. 127.0.0.2), to get past the
 *                         ephemeral-port limit; empty = let the OS choose
 * @param pipelined        false: each reply is answered with one new frame, flushed at once
 *                         (request/response); true: replies are answered with writes flushed once
 *                         per read batch
 * @param threads          event-loop threads, at least 1
 * @param serverPid        the server's process id, to report its CPU time per message; 0 = unknown
 * @param countSyscalls    also count the server's system calls in the window with Linux perf; perf
 *                         slows the traced server, so its CPU and throughput figures from such a run
 *                         are not comparable with untraced ones (needs {@code serverPid})
 * @param tls              speak TLS to the server, or null for plain TCP
 */
public record LoadOptions(String host, int port, int connections, int inFlight, int payloadSize, Duration duration,
                          Duration warmup, List<String> sourceAddresses, boolean pipelined, int threads,
                          long serverPid, boolean countSyscalls, Tls tls) {

    /**
     * TLS on the generator's connections (Netty's {@code SslHandler}).
     *
     * @param trustedCa PEM bundle the server's certificate must chain to; null trusts any
     *                  certificate (for a demo with a self-signed one — never in production)
     * @param protocol  the protocol to offer, e.g. {@code TLSv1.3}
     * @param openssl   use OpenSSL (BoringSSL through netty-tcnative) instead of the JDK's engine
     */
    public record Tls(java.nio.file.Path trustedCa, String protocol, boolean openssl) {
        /** Checks the protocol. */
        public Tls {
            Objects.requireNonNull(protocol, "protocol");
        }
    }

    /** Validates every field with a message naming it. */
    public LoadOptions {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(duration, "duration");
        Objects.requireNonNull(warmup, "warmup");
        sourceAddresses = List.copyOf(sourceAddresses);
        check(port >= 1 && port <= 65535, "port", port, "1..65535");
        check(connections >= 1, "connections", connections, ">= 1");
        check(inFlight >= 1, "inFlight", inFlight, ">= 1");
        check(payloadSize >= 8 && payloadSize <= (1 << 20), "payloadSize", payloadSize, "8..1048576");
        check(threads >= 1, "threads", threads, ">= 1");
        if (duration.isNegative() || duration.isZero()) {
            throw new IllegalArgumentException("duration: " + duration + " (expected: > 0)");
        }
        if (warmup.isNegative()) {
            throw new IllegalArgumentException("warmup: " + warmup + " (expected: >= 0)");
        }
        if (countSyscalls && serverPid <= 0) {
            throw new IllegalArgumentException("countSyscalls: true without a serverPid (expected: serverPid > 0)");
        }
    }

    private static void check(boolean ok, String name, int value, String expected) {
        if (!ok) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: " + expected + ")");
        }
    }

    /** A builder with the defaults: 127.0.0.1, 100 connections × 1 in flight, 60-byte payload, 10s + 2s warm-up. */
    public static Builder builder() {
        return new Builder();
    }

    /** Mutable builder; not thread-safe. */
    public static final class Builder {
        private String host = "127.0.0.1";
        private int port;
        private int connections = 100;
        private int inFlight = 1;
        private int payloadSize = 60;
        private Duration duration = Duration.ofSeconds(10);
        private Duration warmup = Duration.ofSeconds(2);
        private List<String> sourceAddresses = List.of();
        private boolean pipelined;
        private int threads = 1;
        private long serverPid;
        private boolean countSyscalls;
        private Tls tls;

        private Builder() {}

        public Builder host(String host) {
            this.host = Objects.requireNonNull(host, "host");
            return this;
        }

        public Builder port(int port) {
            this.port = port;
            return this;
        }

        public Builder connections(int connections) {
            this.connections = connections;
            return this;
        }

        public Builder inFlight(int inFlight) {
            this.inFlight = inFlight;
            return this;
        }

        public Builder payloadSize(int payloadSize) {
            this.payloadSize = payloadSize;
            return this;
        }

        public Builder duration(Duration duration) {
            this.duration = Objects.requireNonNull(duration, "duration");
            return this;
        }

        public Builder warmup(Duration warmup) {
            this.warmup = Objects.requireNonNull(warmup, "warmup");
            return this;
        }

        public Builder sourceAddresses(List<String> sourceAddresses) {
            this.sourceAddresses = Objects.requireNonNull(sourceAddresses, "sourceAddresses");
            return this;
        }

        public Builder pipelined(boolean pipelined) {
            this.pipelined = pipelined;
            return this;
        }

        public Builder threads(int threads) {
            this.threads = threads;
            return this;
        }

        public Builder serverPid(long serverPid) {
            this.serverPid = serverPid;
            return this;
        }

        public Builder countSyscalls(boolean countSyscalls) {
            this.countSyscalls = countSyscalls;
            return this;
        }

        public Builder tls(Tls tls) {
            this.tls = tls; // null: plain TCP
            return this;
        }

        public LoadOptions build() {
            return new LoadOptions(host, port, connections, inFlight, payloadSize, duration, warmup, sourceAddresses,
                    pipelined, threads, serverPid, countSyscalls, tls);
        }
    }
}
