package io.stcp.internal;

import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/**
 * Parses Go-style listen addresses: {@code ":9000"}, {@code "host:9000"}, {@code "[::1]:9000"}, and
 * {@code ""}, which is {@code ":0"} as in Go's {@code net.Listen("tcp", "")}; and Unix domain
 * socket addresses, {@code "unix:PATH"} ({@link #unixPath}).
 */
public record HostPort(String host, int port) {
    /** The prefix of a Unix domain socket address: {@code unix:/run/app.sock}, {@code unix:app.sock}. */
    public static final String UNIX_PREFIX = "unix:";

    /** The longest path a Unix socket's address holds on Linux (108 bytes with the final NUL). */
    static final int MAX_UNIX_PATH = 107;

    /** Whether {@code address} names a Unix domain socket ({@code unix:PATH}). */
    public static boolean isUnix(String address) {
        return address.startsWith(UNIX_PREFIX);
    }

    /**
     * The path of a {@code unix:PATH} address, relative to the working directory unless absolute.
     *
     * @throws IllegalArgumentException if the path is empty, longer than a socket's address holds
     *     (107 bytes), or not a valid path
     */
    public static Path unixPath(String address) {
        String path = address.substring(UNIX_PREFIX.length());
        if (path.isEmpty()) {
            throw new IllegalArgumentException("address: \"" + address + "\" (empty path; expected: e.g. \"unix:/run/app.sock\")");
        }
        int bytes = path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        if (bytes > MAX_UNIX_PATH) {
            // The kernel's limit, which bind and connect would otherwise meet at every attempt: a
            // client would redial for ever.
            throw new IllegalArgumentException("address: \"" + address + "\" (a path of " + bytes
                    + " bytes; expected: at most " + MAX_UNIX_PATH + ", what a Unix socket's address holds)");
        }
        try {
            return Path.of(path);
        } catch (InvalidPathException e) {
            throw new IllegalArgumentException("address: \"" + address + "\" (" + e.getReason() + ")");
        }
    }

    /** Checks a listen address of either kind; throws {@link IllegalArgumentException} naming it when malformed. */
    public static void checkListenAddress(String address) {
        if (isUnix(address)) {
            unixPath(address);
        } else {
            parse(address);
        }
    }

    /** Parses {@code address}; throws {@link IllegalArgumentException} naming it when malformed. */
    public static HostPort parse(String address) {
        if (address.isEmpty()) {
            return new HostPort("", 0); // Go's DefaultServerAcceptCnf address: all interfaces, a free port
        }
        if (address.contains("://")) { // "tcp://host:9000": otherwise told that an IPv6 host needs brackets
            throw bad(address, "a URL, not an address: leave out the scheme");
        }
        int colon;
        String host;
        if (address.startsWith("[")) { // an IPv6 host: its own colons are inside the brackets
            int close = address.indexOf(']');
            if (close < 0) {
                throw bad(address, "'[' without ']'");
            }
            colon = close + 1;
            if (colon == address.length() || address.charAt(colon) != ':') {
                throw bad(address, "missing ':port' after ']'");
            }
            host = address.substring(1, close);
        } else {
            colon = address.lastIndexOf(':');
            if (colon < 0) {
                throw bad(address, "missing ':port'");
            }
            host = address.substring(0, colon);
            if (host.indexOf(':') >= 0) {
                throw bad(address, "an IPv6 host must be in brackets, e.g. [::1]:9000");
            }
        }
        int port;
        try {
            port = Integer.parseInt(address.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw bad(address, "port is not a number");
        }
        if (port < 0 || port > 65535) {
            throw bad(address, "port out of range 0..65535");
        }
        return new HostPort(host, port);
    }

    /** The socket address to bind: the wildcard address when the host is empty. */
    public InetSocketAddress toBindAddress() {
        return host.isEmpty() ? new InetSocketAddress(port) : new InetSocketAddress(host, port);
    }

    /**
     * An address as Go prints it: {@code 127.0.0.1:9000}, {@code [::1]:9000}, without the JDK's
     * leading slash or host name; a Unix domain socket as its listen address,
     * {@code unix:/run/app.sock} ({@code unix:} alone for an unnamed peer socket, as clients' are).
     */
    public static String format(SocketAddress address) {
        if (address instanceof UnixDomainSocketAddress unix) {
            return UNIX_PREFIX + unix.getPath();
        }
        if (address instanceof InetSocketAddress inet && inet.getAddress() != null) {
            String host = inet.getAddress().getHostAddress();
            return (inet.getAddress() instanceof Inet6Address ? "[" + host + "]" : host) + ":" + inet.getPort();
        }
        if (address instanceof InetSocketAddress inet) {
            return inet.getHostString() + ":" + inet.getPort();
        }
        return String.valueOf(address);
    }

    private static IllegalArgumentException bad(String address, String why) {
        return new IllegalArgumentException("address: \"" + address + "\" (" + why
                + "; expected: \":9000\", \"127.0.0.1:9000\" or \"[::1]:9000\")");
    }
}
