package io.stcp;

import io.stcp.internal.Cidr;
import java.util.List;
import java.util.Objects;

/**
 * Limits per client address: concurrent connections, new connections per second (a token
 * bucket), and allow and deny lists. Part of {@link ServerConfig}; all off by default.
 *
 * <p><b>Where they apply.</b> At accept, on the accept thread, before a thread or a buffer is
 * spent on the connection: a refused one is closed at once, counted per reason
 * ({@link TcpServer#rejectedCount(RejectReason)}) and logged at WARN ({@code server.reject}) at
 * most once per 10 s per reason, with the number held back. The order is: deny and allow lists,
 * the rate, the count, then {@link ServerConfig#maxConn()}; every attempt that passes the lists
 * spends a token of its address's rate, even if a later limit refuses it. When the PROXY protocol
 * is on and the peer is a trusted proxy, the client's address is known only once the header has
 * been read: the limits then apply on the connection's thread, right after the header, to the
 * client's address (the proxy's own address is never limited). Unix socket peers have no address
 * and are not limited here; nor is a client whose header names no IP address (version 1's
 * {@code UNKNOWN}, version 2's unspecified family or Unix socket), except that a non-empty
 * {@link #allow()} list refuses it ({@link RejectReason#DENIED}).
 *
 * <p><b>Addresses.</b> An IPv4 address counts on its own; IPv6 addresses count per /64 network,
 * since a single host usually holds a whole /64 and could otherwise open connections from as many
 * addresses as it likes.
 *
 * <p><b>Memory.</b> Each address with live connections or a recent connection has an entry (about
 * 100 bytes); an entry expires once the address has no connection left and its token bucket has
 * refilled. The table never holds more than {@link #maxTrackedIps()} entries: when it is full of
 * entries that have not expired (a flood from very many addresses), a new address is refused
 * ({@link RejectReason#IP_TABLE_FULL}) until some expire, while addresses already in the table go
 * on as before.
 *
 * @param maxConnPerIp              concurrent connections per address; 0 (the default) = no limit
 * @param connectionsPerSecondPerIp new connections per second per address, refilled continuously;
 *                                  0 (the default) = no limit
 * @param burstPerIp                connections an address may open at once before the rate
 *                                  applies (the bucket's size); 0 (the default) = the rate rounded
 *                                  up, at least 1. Refused without a rate, which it would not change
 * @param allow                     if not empty, only addresses in these networks (CIDR) are served
 * @param deny                      addresses in these networks (CIDR) are refused; deny wins over allow
 * @param maxTrackedIps             the most addresses tracked at once for the two limits above.
 *                                  Default {@value #DEFAULT_MAX_TRACKED_IPS} (a few MiB at most);
 *                                  another value is refused while neither of them is set
 */
public record IpLimits(int maxConnPerIp, double connectionsPerSecondPerIp, int burstPerIp, List<String> allow,
                       List<String> deny, int maxTrackedIps) {

    /** Default size of the address table. */
    public static final int DEFAULT_MAX_TRACKED_IPS = 65536;

    private static final IpLimits NONE = builder().build();

    /** Validates; messages name the field and the bad value. */
    public IpLimits {
        allow = List.copyOf(allow);
        deny = List.copyOf(deny);
        if (maxConnPerIp < 0) {
            throw new IllegalArgumentException("maxConnPerIp: " + maxConnPerIp + " (expected: >= 0, 0 = no limit)");
        }
        if (!(connectionsPerSecondPerIp >= 0) || Double.isInfinite(connectionsPerSecondPerIp)) {
            throw new IllegalArgumentException("connectionsPerSecondPerIp: " + connectionsPerSecondPerIp
                    + " (expected: a finite number >= 0, 0 = no limit)");
        }
        if (burstPerIp < 0) {
            throw new IllegalArgumentException("burstPerIp: " + burstPerIp + " (expected: >= 0, 0 = the rate)");
        }
        if (maxTrackedIps < 1) {
            throw new IllegalArgumentException("maxTrackedIps: " + maxTrackedIps + " (expected: >= 1)");
        }
        // A setting of a limit that is off would be accepted and do nothing: an operator who set it
        // believes in a limit there is not.
        if (burstPerIp != 0 && connectionsPerSecondPerIp == 0) {
            throw new IllegalArgumentException("burstPerIp: " + burstPerIp + " without connectionsPerSecondPerIp"
                    + " (expected: 0 while there is no rate: a burst is the size of the rate's bucket)");
        }
        if (maxTrackedIps != DEFAULT_MAX_TRACKED_IPS && maxConnPerIp == 0 && connectionsPerSecondPerIp == 0) {
            throw new IllegalArgumentException("maxTrackedIps: " + maxTrackedIps + " without maxConnPerIp or"
                    + " connectionsPerSecondPerIp (expected: the default " + DEFAULT_MAX_TRACKED_IPS
                    + " while neither is set: only they track addresses)");
        }
        check("allow", allow);
        check("deny", deny);
    }

    private static void check(String field, List<String> networks) {
        for (String n : networks) {
            try {
                Cidr.parse(Objects.requireNonNull(n, field));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(field + ": " + e.getMessage());
            }
        }
    }

    /** No limits: the default. */
    public static IpLimits none() {
        return NONE;
    }

    /** A builder holding the defaults (no limits). */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these values. */
    public Builder toBuilder() {
        return new Builder().maxConnPerIp(maxConnPerIp).connectionsPerSecondPerIp(connectionsPerSecondPerIp)
                .burstPerIp(burstPerIp).allow(allow).deny(deny).maxTrackedIps(maxTrackedIps);
    }

    /** The bucket size in effect: {@link #burstPerIp()}, or the rate rounded up (at least 1) for 0. */
    public int effectiveBurstPerIp() {
        return burstPerIp != 0 ? burstPerIp : (int) Math.max(1, Math.min(Integer.MAX_VALUE, Math.ceil(connectionsPerSecondPerIp)));
    }

    /** Whether any address has to be tracked: a count or a rate limit is set. */
    public boolean tracksAddresses() {
        return maxConnPerIp > 0 || connectionsPerSecondPerIp > 0;
    }

    /** Whether any limit is set at all. */
    public boolean isEnabled() {
        return tracksAddresses() || !allow.isEmpty() || !deny.isEmpty();
    }

    /** Mutable builder for {@link IpLimits}; not thread-safe. */
    public static final class Builder {
        private int maxConnPerIp;
        private double connectionsPerSecondPerIp;
        private int burstPerIp;
        private List<String> allow = List.of();
        private List<String> deny = List.of();
        private int maxTrackedIps = DEFAULT_MAX_TRACKED_IPS;

        private Builder() {}

        /** See {@link IpLimits#maxConnPerIp()}. */
        public Builder maxConnPerIp(int maxConnPerIp) {
            this.maxConnPerIp = maxConnPerIp;
            return this;
        }

        /** See {@link IpLimits#connectionsPerSecondPerIp()}. */
        public Builder connectionsPerSecondPerIp(double connectionsPerSecondPerIp) {
            this.connectionsPerSecondPerIp = connectionsPerSecondPerIp;
            return this;
        }

        /** See {@link IpLimits#burstPerIp()}. */
        public Builder burstPerIp(int burstPerIp) {
            this.burstPerIp = burstPerIp;
            return this;
        }

        /** See {@link IpLimits#allow()}. */
        public Builder allow(List<String> networks) {
            this.allow = Objects.requireNonNull(networks, "allow");
            return this;
        }

        /** See {@link IpLimits#allow()}. */
        public Builder allow(String... networks) {
            return allow(List.of(Objects.requireNonNull(networks, "allow")));
        }

        /** See {@link IpLimits#deny()}. */
        public Builder deny(List<String> networks) {
            this.deny = Objects.requireNonNull(networks, "deny");
            return this;
        }

        /** See {@link IpLimits#deny()}. */
        public Builder deny(String... networks) {
            return deny(List.of(Objects.requireNonNull(networks, "deny")));
        }

        /** See {@link IpLimits#maxTrackedIps()}. */
        public Builder maxTrackedIps(int maxTrackedIps) {
            this.maxTrackedIps = maxTrackedIps;
            return this;
        }

        /** Validates and builds; throws {@link IllegalArgumentException} naming a bad field. */
        public IpLimits build() {
            return new IpLimits(maxConnPerIp, connectionsPerSecondPerIp, burstPerIp, allow, deny, maxTrackedIps);
        }
    }
}
