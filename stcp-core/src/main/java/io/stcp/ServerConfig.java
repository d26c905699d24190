package io.stcp;

import java.time.Duration;
import io.stcp.internal.HostPort;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * How a {@link TcpServer} listens and accepts: the Java twin of Go's {@code ServerAcceptCnf}.
 *
 * <p>Immutable and validated on construction; build one with {@link #builder()} or start from
 * {@link #defaults()}. Every field has a default, so a partial JSON document (see the
 * {@code stcp-jackson} module) yields a working configuration.
 *
 * @param address        where to listen: {@code ":9000"} (all interfaces), {@code "127.0.0.1:9000"},
 *                       {@code "[::1]:9000"}, or {@code "host:0"} to pick a free port. The empty
 *                       string, the address of Go's {@code DefaultServerAcceptCnf}, means
 *                       {@code ":0"}: all interfaces, a free port (as {@code net.Listen("tcp", "")}
 *                       does in Go); it is kept as given. {@code "unix:PATH"} listens on a Unix
 *                       domain socket (see {@link TcpServer#start()} for the socket file).
 *                       Default {@code ":0"}.
 * @param acceptDelay    first back-off after a failed accept, doubled on each consecutive failure.
 *                       Default 5µs; must be positive (a zero delay would spin).
 * @param acceptMaxDelay the back-off never exceeds this. Default 50ms; must be {@code >= acceptDelay}.
 * @param acceptMaxRetry how many times the accept loop retries after consecutive failures before it
 *                       gives up and reports the error: with 3 the loop sees at most 4 failures in a
 *                       row (one try and three retries). 0 (the default) retries forever.
 * @param maxConn        maximum concurrent connections; a connection beyond it is closed at once and
 *                       counted. Default 65535; 0 means no limit.
 * @param writeTimeout   how long one write may block before the connection is closed (a peer that
 *                       stops reading). Default 5s.
 * @param tcpNoDelay     whether accepted sockets disable Nagle's algorithm. Default true.
 * @param readIdleTimeout a connection that sends nothing for this long is closed: each blocking
 *                       read waits at most this (see {@link Connection#readTimeout(Duration)}), and the
 *                       {@link ReadTimeoutException} ends the connection unless the reader catches it.
 *                       Default 0: disabled. Millisecond resolution on the JDK transport; on epoll a
 *                       connection idle between frames is closed at most a quarter of it (one second)
 *                       late.
 * @param firstFrameTimeout a connection whose reader has not completed its first call (its first
 *                       frame) this long after accept is closed, however slowly it trickles bytes
 *                       (slowloris); a frame that a framing reader (or {@code readLine}) completes
 *                       inside that call counts as its first frame. Default 0: disabled.
 * @param frameTimeout   a frame must be complete this long after its first byte: once a reader call
 *                       has started a frame (consumed bytes, or part of the next value is buffered),
 *                       its reads wait no longer than this in total, so a peer that trickles a
 *                       byte now and then is closed ({@link FrameTimeoutException},
 *                       {@link CloseReason#FRAME_TIMEOUT}, even if the reader catches it). A call
 *                       that returns without consuming a byte does not restart it; a frame that a
 *                       framing reader (or {@code readLine}) completes ends it, also in a call that
 *                       reads many. Waits between
 *                       frames are not bounded by
 *                       it (that is {@code readIdleTimeout}). It also bounds a wait for the
 *                       {@code inboundBudget}. Default 30s.
 * @param inboundBudget  bytes all connections together may hold in large values received (arrays
 *                       of {@link Connection#readBytes(int)}, {@link Connection#readLine(int)} and
 *                       the delimiter framing that grow as bytes come, longer than a read buffer;
 *                       a body {@link QueueSender#relay relayed} off the heap): while they arrive,
 *                       and then while their readers hold them, until the reader gives the value
 *                       up — its next read of any kind, the return of its reader call (a framing
 *                       reader's handler returned), or the connection's end; a relay's body until
 *                       its put returns. A connection
 *                       that needs more stops reading until there is room (its peer is slowed down
 *                       by TCP flow control), at most until its frame timeout. Past half of it
 *                       spent, such an array grows to a quarter more than the bytes that
 *                       arrived instead of four times them, so peers that trickle large frames
 *                       or lines must send about half of it to spend it all. Default 0: an eighth
 *                       of the JVM's maximum heap, taken when the server starts. It counts bytes,
 *                       and a collector may store a large array in more: G1 gives an array of half
 *                       a heap region or more whole regions of its own (of 1 MiB below a heap of
 *                       about 2 GiB), so a 1 MiB value fills two; the default leaves room for
 *                       twice its bytes (see {@code outboundBudget}).
 * @param outboundBudget bytes all connections' send queues ({@link QueueSender}) together may hold
 *                       beyond each one's slack, which is free: queued heap arrays and the
 *                       off-heap chunks of large queued replies alike, and the batch each queue's
 *                       writer has taken until its write returns (a peer that does not read holds
 *                       it up to the write timeout). A queue's slack is its first
 *                       {@value io.stcp.internal.OutboundBudget#FREE_BYTES} bytes, or its first
 *                       {@value io.stcp.internal.OutboundBudget#SLACK_BYTES} while it holds one of
 *                       the server's slack permits, of which there are so many that their slack
 *                       together is at most half this budget (behaviour change: every queue's
 *                       first 80 KiB were free). So the bytes queued or being written in all of a
 *                       server's send queues stay below one and a half times this plus
 *                       {@code maxConn} times 4 KiB. A put
 *                       that would pass it is treated as one that finds its queue full: the
 *                       connection's own reader waits (its patience, the write timeout) until
 *                       any queue frees bytes, so its peer is slowed down by TCP flow control;
 *                       other threads follow the sender's {@link OverflowPolicy} (FAIL fails with
 *                       a {@link QueueFullException} naming the outbound budget, BLOCK waits up
 *                       to its timeout, DROP_OLDEST drops the queue's own oldest messages while
 *                       that can make room (within the slack too: a byte dropped there is one
 *                       the put need not charge), CLOSE_CONNECTION closes the connection only if its own
 *                       queue holds more than 80 KiB, its batch being written included,
 *                       else fails as FAIL does). Default 0:
 *                       a sixteenth of the JVM's maximum heap, taken when the server starts: with
 *                       the inbound budget's eighth, which counts the frame each waiting reader
 *                       holds, peers that send and never read stay well within the heap, even
 *                       where the collector stores their arrays in twice their bytes (G1: an array
 *                       of 1 MiB in two regions of 1 MiB; the budgets together then fill at most
 *                       three eighths of the heap, and the slack permits' slack at most a
 *                       sixteenth more).
 * @param backlog        the listen backlog: connections the kernel completes before the server
 *                       accepts them. Default 0: the operating system's maximum ({@code somaxconn}
 *                       on Linux); a larger value is capped by the kernel.
 * @param proxyProtocol  whether connections start with a PROXY protocol header, and from whom one
 *                       is believed. Default {@link ProxyProtocol#off()}.
 * @param ipLimits       limits per client address: connections, connections per second, allow
 *                       and deny lists. Default {@link IpLimits#none()}.
 * @param reusePort      set {@code SO_REUSEPORT} on the listening socket, so that another process
 *                       (a new version of this server) can listen on the same port while this one
 *                       still serves, for a restart without downtime (see the README). Default
 *                       false. TCP only; on a Unix socket it means the socket file of a live
 *                       server may be replaced (see {@link TcpServer#start()}).
 * @param unixSocketPermissions the permissions of a Unix socket's file, as {@code ls -l} shows
 *                       them ({@code "rw-rw----"}): who may connect. Set before the file appears
 *                       under its name, so nobody else can connect in between. Default {@code ""}:
 *                       as the process's umask makes them. Refused with a TCP address, which has no file.
 * @param tls            TLS for every accepted connection, or null (the default) for plain TCP: each
 *                       connection handshakes on its own thread before the sender factory and the
 *                       hooks run, within {@code firstFrameTimeout} and {@link TlsConfig#handshakeTimeout()};
 *                       readers read the decrypted bytes. See {@link TlsConfig}.
 *
 * <p>Every timeout above has one rule: zero or negative means disabled (Go's
 * {@code SetWriteTimeout(0)} means no timeout too); lengths too long to measure (centuries) mean
 * no limit as well.
 */
public record ServerConfig(
        String address,
        Duration acceptDelay,
        Duration acceptMaxDelay,
        int acceptMaxRetry,
        int maxConn,
        Duration writeTimeout,
        boolean tcpNoDelay,
        Duration readIdleTimeout,
        Duration firstFrameTimeout,
        Duration frameTimeout,
        long inboundBudget,
        long outboundBudget,
        int backlog,
        ProxyProtocol proxyProtocol,
        IpLimits ipLimits,
        boolean reusePort,
        String unixSocketPermissions,
        @Nullable TlsConfig tls) {

    /** Default listen address: all interfaces, a free port. */
    public static final String DEFAULT_ADDRESS = ":0";
    /** Default first accept back-off (Go: 5µs). */
    public static final Duration DEFAULT_ACCEPT_DELAY = Duration.ofNanos(5_000);
    /** Default maximum accept back-off (Go: 50ms). */
    public static final Duration DEFAULT_ACCEPT_MAX_DELAY = Duration.ofMillis(50);
    /** Default accept retry limit: 0, retry forever. */
    public static final int DEFAULT_ACCEPT_MAX_RETRY = 0;
    /** Default connection limit (Go: 65535). */
    public static final int DEFAULT_MAX_CONN = 65535;
    /** Default write timeout (Go: 5s). */
    public static final Duration DEFAULT_WRITE_TIMEOUT = Duration.ofSeconds(5);
    /** Default frame timeout: 30s from a frame's first byte to its last. */
    public static final Duration DEFAULT_FRAME_TIMEOUT = Duration.ofSeconds(30);

    /** Validates every field; the message names the field and the bad value. */
    public ServerConfig {
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(acceptDelay, "acceptDelay");
        Objects.requireNonNull(acceptMaxDelay, "acceptMaxDelay");
        Objects.requireNonNull(writeTimeout, "writeTimeout");
        Objects.requireNonNull(readIdleTimeout, "readIdleTimeout");
        Objects.requireNonNull(firstFrameTimeout, "firstFrameTimeout");
        Objects.requireNonNull(frameTimeout, "frameTimeout");
        Objects.requireNonNull(proxyProtocol, "proxyProtocol");
        Objects.requireNonNull(ipLimits, "ipLimits");
        Objects.requireNonNull(unixSocketPermissions, "unixSocketPermissions");
        if (!unixSocketPermissions.isEmpty()) {
            try {
                java.nio.file.attribute.PosixFilePermissions.fromString(unixSocketPermissions);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unixSocketPermissions: \"" + unixSocketPermissions
                        + "\" (expected: nine characters as ls -l shows them, e.g. \"rw-rw----\", or \"\")");
            }
        }
        writeTimeout = disabledIfNegative(writeTimeout);
        readIdleTimeout = disabledIfNegative(readIdleTimeout);
        firstFrameTimeout = disabledIfNegative(firstFrameTimeout);
        frameTimeout = disabledIfNegative(frameTimeout);
        if (inboundBudget < 0) {
            throw new IllegalArgumentException("inboundBudget: " + inboundBudget
                    + " (expected: >= 0, 0 = an eighth of the maximum heap)");
        }
        if (outboundBudget < 0) {
            throw new IllegalArgumentException("outboundBudget: " + outboundBudget
                    + " (expected: >= 0, 0 = a sixteenth of the maximum heap)");
        }
        if (backlog < 0) {
            throw new IllegalArgumentException("backlog: " + backlog + " (expected: >= 0, 0 = the OS maximum)");
        }
        HostPort.checkListenAddress(address); // throws IllegalArgumentException naming the address
        if (!unixSocketPermissions.isEmpty() && !HostPort.isUnix(address)) {
            throw new IllegalArgumentException("unixSocketPermissions: \"" + unixSocketPermissions + "\" with the address \""
                    + address + "\" (expected: \"\"; they are a Unix socket file's, for a \"unix:PATH\" address)");
        }
        io.stcp.internal.RealTlsConfig.forServer(tls); // throws IllegalArgumentException unless built by TlsConfig.builder()
        if (acceptDelay.isNegative() || acceptDelay.isZero()) {
            throw new IllegalArgumentException(
                    "acceptDelay: " + Durations.format(acceptDelay) + " (expected: > 0)");
        }
        if (acceptMaxDelay.compareTo(acceptDelay) < 0) {
            throw new IllegalArgumentException("acceptMaxDelay: " + Durations.format(acceptMaxDelay)
                    + " (expected: >= acceptDelay " + Durations.format(acceptDelay) + ")");
        }
        if (acceptMaxRetry < 0) {
            throw new IllegalArgumentException("acceptMaxRetry: " + acceptMaxRetry + " (expected: >= 0)");
        }
        if (maxConn < 0) {
            throw new IllegalArgumentException("maxConn: " + maxConn + " (expected: >= 0)");
        }
    }

    private static Duration disabledIfNegative(Duration timeout) {
        return timeout.isNegative() ? Duration.ZERO : timeout;
    }

    /** The defaults of Go's {@code DefaultServerAcceptCnf()}, listening on a free port. */
    public static ServerConfig defaults() {
        return builder().build();
    }

    /** A builder holding the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this configuration's values. */
    public Builder toBuilder() {
        return new Builder()
                .address(address)
                .acceptDelay(acceptDelay)
                .acceptMaxDelay(acceptMaxDelay)
                .acceptMaxRetry(acceptMaxRetry)
                .maxConn(maxConn)
                .writeTimeout(writeTimeout)
                .tcpNoDelay(tcpNoDelay)
                .readIdleTimeout(readIdleTimeout)
                .firstFrameTimeout(firstFrameTimeout)
                .frameTimeout(frameTimeout)
                .inboundBudget(inboundBudget)
                .outboundBudget(outboundBudget)
                .backlog(backlog)
                .proxyProtocol(proxyProtocol)
                .ipLimits(ipLimits)
                .reusePort(reusePort)
                .unixSocketPermissions(unixSocketPermissions)
                .tls(tls);
    }

    /** The connection limit as an effective maximum: {@code maxConn}, or unlimited for 0. */
    public int effectiveMaxConn() {
        return maxConn == 0 ? Integer.MAX_VALUE : maxConn;
    }

    /** The inbound budget in bytes: {@code inboundBudget}, or an eighth of the maximum heap for 0. */
    public long effectiveInboundBudget() {
        return orShareOfHeap(inboundBudget, 8);
    }

    /** The outbound budget in bytes: {@code outboundBudget}, or a sixteenth of the maximum heap for 0. */
    public long effectiveOutboundBudget() {
        return orShareOfHeap(outboundBudget, 16);
    }

    /**
     * {@code bytes}, or for 0 the maximum heap divided by {@code divisor}, at least 1 MiB: a budget's
     * default (a client's inbound budget's too).
     */
    static long orShareOfHeap(long bytes, int divisor) {
        return bytes != 0 ? bytes : Math.max(1L << 20, Runtime.getRuntime().maxMemory() / divisor);
    }

    /** The backlog to ask the kernel for: {@code backlog}, or the largest value (the kernel caps it) for 0. */
    public int effectiveBacklog() {
        return backlog != 0 ? backlog : Integer.MAX_VALUE;
    }

    /** Mutable builder for {@link ServerConfig}; not thread-safe. */
    public static final class Builder {
        private String address = DEFAULT_ADDRESS;
        private Duration acceptDelay = DEFAULT_ACCEPT_DELAY;
        private Duration acceptMaxDelay = DEFAULT_ACCEPT_MAX_DELAY;
        private int acceptMaxRetry = DEFAULT_ACCEPT_MAX_RETRY;
        private int maxConn = DEFAULT_MAX_CONN;
        private Duration writeTimeout = DEFAULT_WRITE_TIMEOUT;
        private boolean tcpNoDelay = true;
        private Duration readIdleTimeout = Duration.ZERO;
        private Duration firstFrameTimeout = Duration.ZERO;
        private Duration frameTimeout = DEFAULT_FRAME_TIMEOUT;
        private long inboundBudget;
        private long outboundBudget;
        private int backlog;
        private ProxyProtocol proxyProtocol = ProxyProtocol.off();
        private IpLimits ipLimits = IpLimits.none();
        private boolean reusePort;
        private String unixSocketPermissions = "";
        private @Nullable TlsConfig tls;

        private Builder() {}

        /** See {@link ServerConfig#address()}. */
        public Builder address(String address) {
            this.address = Objects.requireNonNull(address, "address");
            return this;
        }

        /** See {@link ServerConfig#acceptDelay()}. */
        public Builder acceptDelay(Duration acceptDelay) {
            this.acceptDelay = Objects.requireNonNull(acceptDelay, "acceptDelay");
            return this;
        }

        /** See {@link ServerConfig#acceptMaxDelay()}. */
        public Builder acceptMaxDelay(Duration acceptMaxDelay) {
            this.acceptMaxDelay = Objects.requireNonNull(acceptMaxDelay, "acceptMaxDelay");
            return this;
        }

        /** See {@link ServerConfig#acceptMaxRetry()}. */
        public Builder acceptMaxRetry(int acceptMaxRetry) {
            this.acceptMaxRetry = acceptMaxRetry;
            return this;
        }

        /** See {@link ServerConfig#maxConn()}. */
        public Builder maxConn(int maxConn) {
            this.maxConn = maxConn;
            return this;
        }

        /** See {@link ServerConfig#writeTimeout()}. */
        public Builder writeTimeout(Duration writeTimeout) {
            this.writeTimeout = Objects.requireNonNull(writeTimeout, "writeTimeout");
            return this;
        }

        /** See {@link ServerConfig#tcpNoDelay()}. */
        public Builder tcpNoDelay(boolean tcpNoDelay) {
            this.tcpNoDelay = tcpNoDelay;
            return this;
        }

        /** See {@link ServerConfig#readIdleTimeout()}. */
        public Builder readIdleTimeout(Duration readIdleTimeout) {
            this.readIdleTimeout = Objects.requireNonNull(readIdleTimeout, "readIdleTimeout");
            return this;
        }

        /** See {@link ServerConfig#firstFrameTimeout()}. */
        public Builder firstFrameTimeout(Duration firstFrameTimeout) {
            this.firstFrameTimeout = Objects.requireNonNull(firstFrameTimeout, "firstFrameTimeout");
            return this;
        }

        /** See {@link ServerConfig#frameTimeout()}. */
        public Builder frameTimeout(Duration frameTimeout) {
            this.frameTimeout = Objects.requireNonNull(frameTimeout, "frameTimeout");
            return this;
        }

        /** See {@link ServerConfig#inboundBudget()}. */
        public Builder inboundBudget(long inboundBudget) {
            this.inboundBudget = inboundBudget;
            return this;
        }

        /** See {@link ServerConfig#outboundBudget()}. */
        public Builder outboundBudget(long outboundBudget) {
            this.outboundBudget = outboundBudget;
            return this;
        }

        /** See {@link ServerConfig#backlog()}. */
        public Builder backlog(int backlog) {
            this.backlog = backlog;
            return this;
        }

        /** See {@link ServerConfig#proxyProtocol()}. */
        public Builder proxyProtocol(ProxyProtocol proxyProtocol) {
            this.proxyProtocol = Objects.requireNonNull(proxyProtocol, "proxyProtocol");
            return this;
        }

        /** See {@link ServerConfig#ipLimits()}. */
        public Builder ipLimits(IpLimits ipLimits) {
            this.ipLimits = Objects.requireNonNull(ipLimits, "ipLimits");
            return this;
        }

        /** See {@link ServerConfig#reusePort()}. */
        public Builder reusePort(boolean reusePort) {
            this.reusePort = reusePort;
            return this;
        }

        /** See {@link ServerConfig#unixSocketPermissions()}. */
        public Builder unixSocketPermissions(String unixSocketPermissions) {
            this.unixSocketPermissions = Objects.requireNonNull(unixSocketPermissions, "unixSocketPermissions");
            return this;
        }

        /** See {@link ServerConfig#tls()}; null for plain TCP. */
        public Builder tls(@Nullable TlsConfig tls) {
            this.tls = tls;
            return this;
        }

        /** Validates and builds; throws {@link IllegalArgumentException} naming a bad field. */
        public ServerConfig build() {
            return new ServerConfig(address, acceptDelay, acceptMaxDelay, acceptMaxRetry, maxConn,
                    writeTimeout, tcpNoDelay, readIdleTimeout, firstFrameTimeout, frameTimeout, inboundBudget, outboundBudget, backlog,
                    proxyProtocol, ipLimits, reusePort, unixSocketPermissions, tls);
        }
    }
}
