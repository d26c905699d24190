package io.stcp.cluster;

/** A parsed {@link ClusterConfig#redisAddress()}: host and port. */
record RedisAddress(String host, int port) {

    /** Parses {@code "host:port"} or {@code "[v6]:port"}; the message names the field. */
    static RedisAddress parse(String address) {
        int colon = address.lastIndexOf(':');
        String host = colon < 0 ? "" : address.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
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
        if (host.isEmpty() || port < 1 || port > 65535) {
            throw new IllegalArgumentException("redisAddress: \"" + address + "\" (expected: host:port, port 1 to 65535)");
        }
        return new RedisAddress(host, port);
    }
}
