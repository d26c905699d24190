package io.stcp.cluster;

/** A parsed {@link ClusterConfig#redisAddress()}: host and port. */
record RedisAddress(String host, int port) {

    /**
     * Parses {@code "host:port"} or {@code "[v6]:port"}; the message names the field. A host is a
     * name or IPv4 address (letters, digits, {@code . _ -}) or, in brackets, an IPv6 address (hex
     * digits, {@code :} and {@code .}, a {@code %zone}): anything else — a URI's {@code redis://}
     * or {@code user:password@}, an IPv6 address without brackets — could never be connected to,
     * and would only show as unending reconnects.
     */
    static RedisAddress parse(String address) {
        if (address.contains("://")) {
            throw new IllegalArgumentException("redisAddress: \"" + address + "\" (expected: host:port without a scheme,"
                    + " such as \"127.0.0.1:6379\"; the password goes to redisPassword, and TLS is not supported)");
        }
        int colon = address.lastIndexOf(':');
        String host = colon < 0 ? "" : address.substring(0, colon);
        boolean bracketed = host.startsWith("[") && host.endsWith("]");
        if (bracketed) {
            host = host.substring(1, host.length() - 1);
        }
        int port = -1;
        if (colon >= 0) {
            try {
                port = Integer.parseInt(address.substring(colon + 1));
            } catch (NumberFormatException e) {
                port = -1;
            }
        }
        if (host.isEmpty() || port < 1 || port > 65535 || !(bracketed ? isIpv6Literal(host) : isHostName(host))) {
            throw new IllegalArgumentException("redisAddress: \"" + address
                    + "\" (expected: host:port, port 1 to 65535; an IPv6 address in brackets: \"[::1]:6379\")");
        }
        return new RedisAddress(host, port);
    }

    /**
     * As every line and message names Redis ({@code redis}): {@code host:port}, an IPv6 address in
     * brackets ({@code [::1]:6379}), as the server's addresses are written.
     */
    String format() {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }

    private static boolean isHostName(String host) {
        return host.chars().allMatch(c -> c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
                || c == '.' || c == '_' || c == '-');
    }

    private static boolean isIpv6Literal(String host) {
        int zone = host.indexOf('%');
        String address = zone < 0 ? host : host.substring(0, zone);
        return address.indexOf(':') >= 0 && address.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == ':' || c == '.')
                && (zone < 0 || zone + 1 < host.length() && isHostName(host.substring(zone + 1)));
    }
}
