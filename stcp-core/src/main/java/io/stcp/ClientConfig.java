package io.stcp;

import io.stcp.internal.HostPort;
import io.stcp.internal.RealTlsConfig;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * How a {@link TcpClient} dials, and reconnects when its connection ends or cannot be made.
 *
 * <p>Immutable and validated on construction; build one with {@link #builder(String)}.
 *
 * <p><b>Back-off.</b> After the n-th failed attempt in a row the client waits
 * {@code min(reconnectMaxDelay, reconnectDelay × reconnectMultiplier^(n-1))}, shortened by a
 * random part of up to {@code reconnectJitter} of it (so clients that lost the same server do not
 * all come back at the same instant): the wait lies in {@code [max(1 ms, d × (1 - jitter)), d]} and
 * is never above {@code reconnectMaxDelay}. No wait is shorter than {@link #MIN_RECONNECT_DELAY},
 * 1 ms, whatever the jitter draws (with a jitter of 1.0, {@code d × (1 - jitter)} is 0): a client
 * whose server refuses at once does not dial in a tight loop. After a connection that stayed up for at least
 * {@code reconnectMaxDelay} ends, the first wait is {@code reconnectDelay} (jittered) and the count
 * starts again. A connection that ends sooner — a server that accepts and closes at once, at its
 * connection limit say — does not start the back-off again: the next wait is the next longer one,
 * as after a failed attempt, so clients turned away do not come back every {@code reconnectDelay}.
 * If it also ended before its reader took a whole message from the server, it <em>is</em> a
 * failed attempt (see {@code maxAttempts}).
 *
 * @param address           where to connect: {@code "host:port"}, {@code "10.0.0.5:9000"},
 *                          {@code "[::1]:9000"}; an empty host ({@code ":9000"}) is the loopback
 *                          address. The host is resolved again on every attempt (the JVM's DNS
 *                          cache, {@code networkaddress.cache.ttl}, still applies), and its
 *                          addresses are tried until one connects: staggered, the families
 *                          alternating (see {@code connectionAttemptDelay}). Or a Unix domain socket,
 *                          {@code "unix:/run/app.sock"} (relative to the working directory unless
 *                          absolute), dialled the same way on every attempt. Required.
 * @param connectTimeout    how long one connect attempt may take, the host lookup and the tries
 *                          at each of the host's addresses included: a try still connecting
 *                          when it runs out is closed. A host with several addresses shares it
 *                          out: the next address is tried after {@code connectionAttemptDelay}
 *                          or, if sooner, after the time left divided by the addresses left, so
 *                          that each is tried in time however many there are.
 *                          Default 10s; 0 = no limit of
 *                          stcp's own (the operating system's, about two minutes on Linux). A
 *                          {@code unix:} connect does not wait on Linux: it succeeds or fails at
 *                          once (a full backlog too), and the back-off paces the next attempt.
 * @param connectionAttemptDelay how long a try at one of the host's addresses runs alone before
 *                          the next address is tried beside it (RFC 8305's "Connection Attempt
 *                          Delay", Happy Eyeballs): the tries overlap, the first to connect wins
 *                          and the others are closed, so an address that does not answer (its
 *                          SYNs dropped) costs this delay, not its share of the connect timeout.
 *                          A try that fails starts the next at once; the next starts sooner than
 *                          this delay if the try's share of the connect timeout is shorter, so
 *                          that every address is tried within it. Default 250ms; at least
 *                          {@link #MIN_CONNECTION_ATTEMPT_DELAY} (10 ms, RFC 8305's least): a
 *                          shorter one is refused. With one at least as long as the connect
 *                          timeout, the next address is tried only when a try fails or has had
 *                          its share of the time left (the earlier tries still run beside it, to
 *                          the end of the connect timeout). No effect on a host with one address, nor on
 *                          a {@code unix:} address.
 * @param localAddress      the local address to bind before connecting, or null (the default)
 *                          for any address and an ephemeral port; an IP address, not a name to
 *                          resolve. One other than a wildcard fixes the family: only the host's
 *                          addresses of its family are dialled (an IPv4 address connects to IPv4
 *                          addresses only, an IPv6 one to IPv6 addresses only), and an attempt
 *                          at a host with none of them fails at once, naming the local address
 *                          and the host's addresses. A wildcard, {@code 0.0.0.0} or {@code ::}
 *                          (with a fixed port, say), reaches both: the JDK binds either as the
 *                          any address of a dual-stack socket. Bound with
 *                          {@code SO_REUSEADDR}, so a fixed port is bound again on reconnect
 *                          while the last connection's end of it waits in TIME_WAIT. TCP only:
 *                          set with a {@code unix:} address, it is refused.
 * @param writeTimeout      as {@link ServerConfig#writeTimeout()}. Default 5s; 0 = none.
 * @param readIdleTimeout   as {@link ServerConfig#readIdleTimeout()}: a connection that receives
 *                          nothing for this long ends (and the client reconnects). Default 0: none.
 * @param frameTimeout      as {@link ServerConfig#frameTimeout()}: a frame must be complete this long
 *                          after its first byte, so a server that announces a frame and trickles
 *                          it (or stops halfway) ends the connection
 *                          ({@link CloseReason#FRAME_TIMEOUT}) and the client reconnects. Default
 *                          {@link ServerConfig#DEFAULT_FRAME_TIMEOUT}, 30s; 0 = none.
 * @param inboundBudget     as {@link ServerConfig#inboundBudget()}, for the client's connection:
 *                          bytes a frame still arriving may hold (the arrays of
 *                          {@link Connection#readBytes(int)}, {@link Connection#readLine(int)} and
 *                          the delimiter framing that grow as bytes come). A frame the server
 *                          announces longer than all of it fails at once
 *                          ({@link io.stcp.framing.FrameTooLongException}: the client reconnects)
 *                          whatever the reader's own limit allows, and past half of it an array grows
 *                          to a quarter more than the bytes that arrived, not four times them, so a
 *                          server cannot make the client hold far more than it sent. Default 0: a
 *                          quarter of the JVM's maximum heap, taken when the client is created (a
 *                          server's default is an eighth, for a collector may store each of many
 *                          connections' large values in twice its bytes; the client's one connection
 *                          holds one value at a time, which such rounding makes at most a heap
 *                          region larger).
 * @param tcpNoDelay        whether to disable Nagle's algorithm. Default true; no effect on a
 *                          {@code unix:} address.
 * @param reconnectDelay    the first back-off wait. Default 100ms; at least
 *                          {@link #MIN_RECONNECT_DELAY} (1 ms): a shorter one is refused.
 * @param reconnectMultiplier the factor between consecutive waits. Default 2.0; at least 1.0
 *                          (1.0 = always the same wait).
 * @param reconnectMaxDelay the longest wait. Default 30s; at least {@code reconnectDelay}.
 * @param reconnectJitter   the part of each wait that is random, 0.0 to 1.0. Default 0.2. However
 *                          much it takes off, a wait is at least {@link #MIN_RECONNECT_DELAY}.
 * @param maxAttempts       the client gives up after this many failed attempts in a row (each a
 *                          connect that failed at every address of the host, a connection that
 *                          ended before its connect hook ran, one whose connect hook threw,
 *                          or one that ended before its
 *                          reader took a whole message from the server — a frame completed, or
 *                          a reader call returned having consumed bytes — and before it stayed
 *                          up {@code reconnectMaxDelay}: a server that accepts only to close, at
 *                          its connection limit, refusing the client's certificate after a TLS
 *                          1.3 handshake, or expecting a PROXY header or TLS the client does not
 *                          send, whose alert is no message of the client's protocol); 0 (the
 *                          default) = never. A connection whose reader took a message from the
 *                          server, or that stayed up that long, ends the run of failures.
 * @param offlineCapacity   messages the client keeps while it is not connected, written first
 *                          when it connects again ({@link TcpClient#put(byte[])}). Default 0:
 *                          puts fail at once with {@link NotConnectedException} while not
 *                          connected.
 * @param offlineMaxBytes   bytes the client keeps while it is not connected, when
 *                          {@code offlineCapacity} is not 0, a String key's two bytes a char
 *                          included ({@link TcpClient#put(String, byte[])}). Default 4 MiB; 0 =
 *                          no byte limit (then only the message count bounds it).
 * @param tls               TLS on every connection, or null (the default) for none: a config from
 *                          {@link TlsConfig#clientBuilder()}. Each connection handshakes on its
 *                          reader thread before the sender factory and the connect hook run, and
 *                          the reader reads decrypted bytes; a failed handshake is a failed
 *                          attempt. With a {@code unix:} address it must name the server
 *                          ({@link TlsConfig.Builder#serverName}): there is no host to check.
 */
public record ClientConfig(
        String address,
        Duration connectTimeout,
        Duration connectionAttemptDelay,
        @Nullable InetSocketAddress localAddress,
        Duration writeTimeout,
        Duration readIdleTimeout,
        Duration frameTimeout,
        long inboundBudget,
        boolean tcpNoDelay,
        Duration reconnectDelay,
        double reconnectMultiplier,
        Duration reconnectMaxDelay,
        double reconnectJitter,
        int maxAttempts,
        int offlineCapacity,
        long offlineMaxBytes,
        @Nullable TlsConfig tls) {

    /** Default connect timeout. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);
    /** Default connection attempt delay: 250 ms, RFC 8305's. */
    public static final Duration DEFAULT_CONNECTION_ATTEMPT_DELAY = Duration.ofMillis(250);
    /**
     * The shortest connection attempt delay accepted: 10 ms, below which RFC 8305 says a client
     * must not go (tries that close together are a burst of SYNs, not a fallback).
     */
    public static final Duration MIN_CONNECTION_ATTEMPT_DELAY = Duration.ofMillis(10);
    /**
     * The shortest back-off wait: the least {@code reconnectDelay} accepted, and the floor of
     * every jittered wait. 1 ms.
     */
    public static final Duration MIN_RECONNECT_DELAY = Duration.ofMillis(1);
    /** Default first back-off wait. */
    public static final Duration DEFAULT_RECONNECT_DELAY = Duration.ofMillis(100);
    /** Default factor between back-off waits. */
    public static final double DEFAULT_RECONNECT_MULTIPLIER = 2.0;
    /** Default longest back-off wait. */
    public static final Duration DEFAULT_RECONNECT_MAX_DELAY = Duration.ofSeconds(30);
    /** Default random part of each back-off wait. */
    public static final double DEFAULT_RECONNECT_JITTER = 0.2;
    /** Default byte limit of the offline queue: 4 MiB. */
    public static final long DEFAULT_OFFLINE_MAX_BYTES = 4L << 20;

    /** Validates every field; the message names the field and the bad value. */
    public ClientConfig {
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(connectTimeout, "connectTimeout");
        Objects.requireNonNull(connectionAttemptDelay, "connectionAttemptDelay");
        Objects.requireNonNull(writeTimeout, "writeTimeout");
        Objects.requireNonNull(readIdleTimeout, "readIdleTimeout");
        Objects.requireNonNull(frameTimeout, "frameTimeout");
        Objects.requireNonNull(reconnectDelay, "reconnectDelay");
        Objects.requireNonNull(reconnectMaxDelay, "reconnectMaxDelay");
        connectTimeout = connectTimeout.isNegative() ? Duration.ZERO : connectTimeout;
        writeTimeout = writeTimeout.isNegative() ? Duration.ZERO : writeTimeout;
        readIdleTimeout = readIdleTimeout.isNegative() ? Duration.ZERO : readIdleTimeout;
        frameTimeout = frameTimeout.isNegative() ? Duration.ZERO : frameTimeout;
        if (inboundBudget < 0) {
            throw new IllegalArgumentException("inboundBudget: " + inboundBudget
                    + " (expected: >= 0, 0 = a quarter of the maximum heap)");
        }
        boolean unix = HostPort.isUnix(address);
        if (unix) {
            HostPort.unixPath(address); // throws IllegalArgumentException naming the address
            if (localAddress != null) {
                throw new IllegalArgumentException("localAddress: " + HostPort.format(localAddress) + " with the address \""
                        + address + "\" (expected: null; a local address is bound for TCP only)");
            }
        } else if (HostPort.parse(address).port() == 0) {
            throw new IllegalArgumentException("address: \"" + address + "\" (expected: a port to connect to, not 0)");
        }
        if (localAddress != null && localAddress.isUnresolved()) {
            throw new IllegalArgumentException("localAddress: " + HostPort.format(localAddress)
                    + " unresolved (expected: an IP address, or null)");
        }
        RealTlsConfig clientTls = RealTlsConfig.forClient(tls); // throws IllegalArgumentException naming tls
        if (unix && clientTls != null && clientTls.serverName() == null) {
            throw new IllegalArgumentException("tls: no serverName with the address \"" + address
                    + "\" (expected: TlsConfig.clientBuilder().serverName(...), the name the server's certificate is for)");
        }
        if (!unix && clientTls != null && clientTls.serverName() == null) {
            String host = HostPort.parse(address).host();
            try {
                RealTlsConfig.tlsName(host.isEmpty() ? "localhost" : host);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("tls: the host \"" + host + "\" of the address \"" + address
                        + "\" cannot be sent as SNI nor checked against a certificate (" + e.getMessage()
                        + "; expected: letters, digits, '-' and '.', or TlsConfig.clientBuilder().serverName(...),"
                        + " the name the server's certificate is for)", e);
            }
        }
        if (connectionAttemptDelay.compareTo(MIN_CONNECTION_ATTEMPT_DELAY) < 0) {
            throw new IllegalArgumentException("connectionAttemptDelay: " + Durations.format(connectionAttemptDelay)
                    + " (expected: >= " + Durations.format(MIN_CONNECTION_ATTEMPT_DELAY) + ")");
        }
        if (reconnectDelay.compareTo(MIN_RECONNECT_DELAY) < 0) {
            throw new IllegalArgumentException("reconnectDelay: " + Durations.format(reconnectDelay)
                    + " (expected: >= " + Durations.format(MIN_RECONNECT_DELAY) + ")");
        }
        if (!(reconnectMultiplier >= 1.0) || Double.isInfinite(reconnectMultiplier)) {
            throw new IllegalArgumentException("reconnectMultiplier: " + reconnectMultiplier + " (expected: >= 1.0)");
        }
        if (reconnectMaxDelay.compareTo(reconnectDelay) < 0) {
            throw new IllegalArgumentException("reconnectMaxDelay: " + Durations.format(reconnectMaxDelay)
                    + " (expected: >= reconnectDelay " + Durations.format(reconnectDelay) + ")");
        }
        if (!(reconnectJitter >= 0.0 && reconnectJitter <= 1.0)) {
            throw new IllegalArgumentException("reconnectJitter: " + reconnectJitter + " (expected: 0.0 to 1.0)");
        }
        if (maxAttempts < 0) {
            throw new IllegalArgumentException("maxAttempts: " + maxAttempts + " (expected: >= 0, 0 = never give up)");
        }
        if (offlineCapacity < 0) {
            throw new IllegalArgumentException("offlineCapacity: " + offlineCapacity
                    + " (expected: >= 0, 0 = puts fail while not connected)");
        }
        if (offlineMaxBytes < 0) {
            throw new IllegalArgumentException("offlineMaxBytes: " + offlineMaxBytes + " (expected: >= 0, 0 = no byte limit)");
        }
    }

    /** The inbound budget in bytes: {@code inboundBudget}, or a quarter of the maximum heap for 0. */
    public long effectiveInboundBudget() {
        return ServerConfig.orShareOfHeap(inboundBudget, 4);
    }

    /** A builder for connecting to {@code address}, holding the defaults for everything else. */
    public static Builder builder(String address) {
        return new Builder(Objects.requireNonNull(address, "address"));
    }

    /** A builder holding this configuration's values. */
    public Builder toBuilder() {
        return new Builder(address)
                .connectTimeout(connectTimeout)
                .connectionAttemptDelay(connectionAttemptDelay)
                .localAddress(localAddress)
                .writeTimeout(writeTimeout)
                .readIdleTimeout(readIdleTimeout)
                .frameTimeout(frameTimeout)
                .inboundBudget(inboundBudget)
                .tcpNoDelay(tcpNoDelay)
                .reconnectDelay(reconnectDelay)
                .reconnectMultiplier(reconnectMultiplier)
                .reconnectMaxDelay(reconnectMaxDelay)
                .reconnectJitter(reconnectJitter)
                .maxAttempts(maxAttempts)
                .offlineQueue(offlineCapacity, offlineMaxBytes)
                .tls(tls);
    }

    /** Mutable builder for {@link ClientConfig}; not thread-safe. */
    public static final class Builder {
        private String address;
        private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
        private Duration connectionAttemptDelay = DEFAULT_CONNECTION_ATTEMPT_DELAY;
        private @Nullable InetSocketAddress localAddress;
        private Duration writeTimeout = ServerConfig.DEFAULT_WRITE_TIMEOUT;
        private Duration readIdleTimeout = Duration.ZERO;
        private Duration frameTimeout = ServerConfig.DEFAULT_FRAME_TIMEOUT;
        private long inboundBudget;
        private boolean tcpNoDelay = true;
        private Duration reconnectDelay = DEFAULT_RECONNECT_DELAY;
        private double reconnectMultiplier = DEFAULT_RECONNECT_MULTIPLIER;
        private Duration reconnectMaxDelay = DEFAULT_RECONNECT_MAX_DELAY;
        private double reconnectJitter = DEFAULT_RECONNECT_JITTER;
        private int maxAttempts;
        private int offlineCapacity;
        private long offlineMaxBytes = DEFAULT_OFFLINE_MAX_BYTES;
        private @Nullable TlsConfig tls;

        private Builder(String address) {
            this.address = address;
        }

        /** See {@link ClientConfig#address()}. */
        public Builder address(String address) {
            this.address = Objects.requireNonNull(address, "address");
            return this;
        }

        /** See {@link ClientConfig#connectTimeout()}. */
        public Builder connectTimeout(Duration connectTimeout) {
            this.connectTimeout = Objects.requireNonNull(connectTimeout, "connectTimeout");
            return this;
        }

        /** See {@link ClientConfig#connectionAttemptDelay()}. */
        public Builder connectionAttemptDelay(Duration connectionAttemptDelay) {
            this.connectionAttemptDelay = Objects.requireNonNull(connectionAttemptDelay, "connectionAttemptDelay");
            return this;
        }

        /** See {@link ClientConfig#localAddress()}. */
        public Builder localAddress(@Nullable InetSocketAddress localAddress) {
            this.localAddress = localAddress;
            return this;
        }

        /** See {@link ClientConfig#writeTimeout()}. */
        public Builder writeTimeout(Duration writeTimeout) {
            this.writeTimeout = Objects.requireNonNull(writeTimeout, "writeTimeout");
            return this;
        }

        /** See {@link ClientConfig#readIdleTimeout()}. */
        public Builder readIdleTimeout(Duration readIdleTimeout) {
            this.readIdleTimeout = Objects.requireNonNull(readIdleTimeout, "readIdleTimeout");
            return this;
        }

        /** See {@link ClientConfig#frameTimeout()}. */
        public Builder frameTimeout(Duration frameTimeout) {
            this.frameTimeout = Objects.requireNonNull(frameTimeout, "frameTimeout");
            return this;
        }

        /** See {@link ClientConfig#inboundBudget()}. */
        public Builder inboundBudget(long inboundBudget) {
            this.inboundBudget = inboundBudget;
            return this;
        }

        /** See {@link ClientConfig#tcpNoDelay()}. */
        public Builder tcpNoDelay(boolean tcpNoDelay) {
            this.tcpNoDelay = tcpNoDelay;
            return this;
        }

        /** See {@link ClientConfig#reconnectDelay()}. */
        public Builder reconnectDelay(Duration reconnectDelay) {
            this.reconnectDelay = Objects.requireNonNull(reconnectDelay, "reconnectDelay");
            return this;
        }

        /** See {@link ClientConfig#reconnectMultiplier()}. */
        public Builder reconnectMultiplier(double reconnectMultiplier) {
            this.reconnectMultiplier = reconnectMultiplier;
            return this;
        }

        /** See {@link ClientConfig#reconnectMaxDelay()}. */
        public Builder reconnectMaxDelay(Duration reconnectMaxDelay) {
            this.reconnectMaxDelay = Objects.requireNonNull(reconnectMaxDelay, "reconnectMaxDelay");
            return this;
        }

        /** See {@link ClientConfig#reconnectJitter()}. */
        public Builder reconnectJitter(double reconnectJitter) {
            this.reconnectJitter = reconnectJitter;
            return this;
        }

        /** See {@link ClientConfig#maxAttempts()}. */
        public Builder maxAttempts(int maxAttempts) {
            this.maxAttempts = maxAttempts;
            return this;
        }

        /**
         * Keeps up to {@code capacity} messages and {@code maxBytes} bytes while not connected;
         * see {@link ClientConfig#offlineCapacity()}. {@code (0, any)} restores fail-fast.
         */
        public Builder offlineQueue(int capacity, long maxBytes) {
            this.offlineCapacity = capacity;
            this.offlineMaxBytes = maxBytes;
            return this;
        }

        /** See {@link ClientConfig#tls()}; null for plain TCP. */
        public Builder tls(@Nullable TlsConfig tls) {
            this.tls = tls;
            return this;
        }

        /** Validates and builds; throws {@link IllegalArgumentException} naming a bad field. */
        public ClientConfig build() {
            return new ClientConfig(address, connectTimeout, connectionAttemptDelay, localAddress, writeTimeout, readIdleTimeout, frameTimeout,
                    inboundBudget, tcpNoDelay, reconnectDelay, reconnectMultiplier, reconnectMaxDelay, reconnectJitter, maxAttempts,
                    offlineCapacity, offlineMaxBytes, tls);
        }
    }
}
