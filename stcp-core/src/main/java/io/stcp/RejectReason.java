package io.stcp;

/**
 * Why a server refused a connection before running it (see {@link TcpServer#rejectedCount(RejectReason)}).
 * Refused connections are closed at once, no hook runs for them, and each reason is logged at WARN
 * ({@code server.reject}, with {@code reason} = {@link #key()}) at most once per 10 s with the
 * number held back since its last line.
 */
public enum RejectReason {
    /** {@link ServerConfig#maxConn()} connections were live. */
    MAX_CONN("maxConn"),
    /** The client's address is in {@link IpLimits#deny()}, or not in a non-empty {@link IpLimits#allow()}. */
    DENIED("denied"),
    /** The client's address had {@link IpLimits#maxConnPerIp()} connections live. */
    MAX_CONN_PER_IP("maxConnPerIp"),
    /** The client's address opened connections faster than {@link IpLimits#connectionsPerSecondPerIp()} allows. */
    RATE_PER_IP("ratePerIp"),
    /** The table of client addresses was full ({@link IpLimits#maxTrackedIps()}) and none of its entries had expired. */
    IP_TABLE_FULL("ipTableFull"),
    /** A peer outside {@link ProxyProtocol#trustedProxies()} connected where a PROXY header is required, or sent one. */
    PROXY_UNTRUSTED("proxyUntrusted"),
    /** A trusted proxy's connection did not start with a PROXY header where one is required. */
    PROXY_HEADER_MISSING("proxyHeaderMissing"),
    /** The PROXY header was malformed, truncated by the end of the stream, or longer than allowed. */
    PROXY_HEADER_INVALID("proxyHeaderInvalid"),
    /** The PROXY header was not complete within {@link ProxyProtocol#headerTimeout()}. */
    PROXY_HEADER_TIMEOUT("proxyHeaderTimeout");

    private final String key;

    RejectReason(String key) {
        this.key = key;
    }

    /** The name in log lines: {@code maxConn}, {@code maxConnPerIp}, {@code proxyUntrusted}, ... */
    public String key() {
        return key;
    }
}
