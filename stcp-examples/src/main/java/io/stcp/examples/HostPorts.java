package io.stcp.examples;

import java.net.Inet6Address;
import java.net.InetSocketAddress;

/** The {@code host:port} the examples print, which a user pastes into a client, a URL or {@code openssl}. */
final class HostPorts {
    private HostPorts() {}

    /**
     * As stcp's own lines write an address ({@code server.start}): {@code 127.0.0.1:9000}, or {@code [0:0:0:0:0:0:0:1]:9000} for an IPv6 address: without the brackets the
     * port cannot be told from the address's last group ({@code 0:0:0:0:0:0:0:1:9000}), and a URL
     * or {@code openssl s_client -connect} refuses it.
     */
    static String format(InetSocketAddress address) {
        String host = address.getAddress() != null ? address.getAddress().getHostAddress() : address.getHostString();
        return (address.getAddress() instanceof Inet6Address ? "[" + host + "]" : host) + ":" + address.getPort();
    }
}
