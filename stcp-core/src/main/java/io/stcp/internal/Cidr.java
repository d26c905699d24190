package io.stcp.internal;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.List;

/**
 * An IP network in CIDR notation: {@code 10.0.0.0/8}, {@code 2001:db8::/32}, or a single address
 * ({@code 127.0.0.1} = {@code 127.0.0.1/32}). Parsing never resolves a host name: only literal
 * addresses are accepted. An IPv4 network matches IPv4 addresses only, an IPv6 one IPv6 only
 * (the JDK reports an IPv4-mapped IPv6 peer such as {@code ::ffff:10.0.0.1} as IPv4, so it matches
 * the IPv4 networks). A network written IPv4-mapped is the IPv4 one it maps:
 * {@code ::ffff:10.0.0.0/104} is {@code 10.0.0.0/8}, its prefix length counted over 128 bits.
 *
 * @param network the address bytes with the host bits cleared (4 or 16)
 * @param prefixLength the number of leading bits that must match
 */
public record Cidr(byte[] network, int prefixLength) {

    /**
     * Parses {@code text}.
     *
     * @throws IllegalArgumentException naming the text when it is not a literal address with an
     *     optional prefix length in range
     */
    public static Cidr parse(String text) {
        String s = text.trim();
        int slash = s.indexOf('/');
        String host = slash < 0 ? s : s.substring(0, slash);
        byte[] address = literal(host);
        if (address == null) {
            throw bad(text, "not a literal IPv4 or IPv6 address");
        }
        // An IPv4-mapped literal (::ffff:a.b.c.d) comes back as IPv4 bytes, as such peers do, but its
        // prefix length counts the IPv6 address's 128 bits, of which the IPv4 address is the last 32.
        int mappedBits = address.length == 4 && host.indexOf(':') >= 0 ? 96 : 0;
        int max = mappedBits + address.length * 8;
        int prefix = max;
        if (slash >= 0) {
            String p = s.substring(slash + 1);
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(c -> c >= '0' && c <= '9')) {
                throw bad(text, "prefix length is not a number");
            }
            prefix = Integer.parseInt(p);
            if (prefix > max) {
                throw bad(text, "prefix length above " + max);
            }
            if (prefix < mappedBits) {
                // ::/n for n < 96 holds IPv6 addresses besides the mapped ones: not one network here
                throw bad(text, "an IPv4-mapped network needs a prefix length from 96 to 128, or write it in IPv4");
            }
        }
        return new Cidr(mask(address, prefix - mappedBits), prefix - mappedBits);
    }

    /** Parses each of {@code texts}; see {@link #parse}. */
    public static List<Cidr> parseAll(List<String> texts) {
        return texts.stream().map(Cidr::parse).toList();
    }

    /** Whether {@code address} lies in this network. */
    public boolean contains(InetAddress address) {
        byte[] a = address.getAddress();
        if (a.length != network.length) {
            return false;
        }
        int full = prefixLength / 8;
        for (int i = 0; i < full; i++) {
            if (a[i] != network[i]) {
                return false;
            }
        }
        int rest = prefixLength % 8;
        if (rest == 0) {
            return true;
        }
        int m = 0xFF << (8 - rest) & 0xFF;
        return (a[full] & m) == (network[full] & 0xFF);
    }

    /** Whether any of {@code networks} contains {@code address}. */
    public static boolean anyContains(List<Cidr> networks, InetAddress address) {
        for (Cidr c : networks) {
            if (c.contains(address)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The bytes of a literal IPv4 (dotted quad) or IPv6 address, or null if {@code host} is not
     * one. Never looks a name up.
     */
    static byte[] literal(String host) {
        if (host.isEmpty()) {
            return null;
        }
        if (host.indexOf(':') < 0) {
            return ipv4(host);
        }
        if (host.charAt(0) == '.') {
            return null; // the JDK parses a literal only from a hex digit or a colon on: this it would look up
        }
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            boolean ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
            if (!ok) {
                return null; // also no scope ids (%eth0) and no brackets
            }
        }
        try {
            // Only hex digits, colons and dots, with a colon, from a hex digit or a colon on: the JDK
            // parses it as an IPv6 literal and fails without a lookup if it is not one.
            // (An IPv4-mapped literal, ::ffff:a.b.c.d, comes back as the four IPv4 bytes.)
            return InetAddress.getByName(host).getAddress();
        } catch (UnknownHostException | SecurityException e) {
            return null;
        }
    }

    /** The four bytes of a dotted quad with each part 0..255 in at most three digits, or null. */
    static byte[] ipv4(String s) {
        byte[] b = new byte[4];
        int part = 0;
        int value = 0;
        int digits = 0;
        for (int i = 0; i <= s.length(); i++) {
            char c = i < s.length() ? s.charAt(i) : '.';
            if (c == '.') {
                if (digits == 0 || part == 4) {
                    return null;
                }
                b[part++] = (byte) value;
                value = 0;
                digits = 0;
            } else if (c >= '0' && c <= '9' && digits < 3) {
                value = value * 10 + (c - '0');
                digits++;
                if (value > 255) {
                    return null;
                }
            } else {
                return null;
            }
        }
        return part == 4 ? b : null;
    }

    private static byte[] mask(byte[] address, int prefix) {
        byte[] b = address.clone();
        for (int bit = prefix; bit < b.length * 8; bit++) {
            b[bit / 8] &= (byte) ~(0x80 >>> (bit % 8));
        }
        return b;
    }

    private static IllegalArgumentException bad(String text, String why) {
        return new IllegalArgumentException("\"" + text + "\" (" + why
                + "; expected: a network such as 10.0.0.0/8, 2001:db8::/32 or 127.0.0.1)");
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Cidr c && prefixLength == c.prefixLength && Arrays.equals(network, c.network);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(network) + prefixLength;
    }

    @Override
    public String toString() {
        try {
            return InetAddress.getByAddress(network).getHostAddress() + "/" + prefixLength;
        } catch (UnknownHostException e) {
            return Arrays.toString(network) + "/" + prefixLength;
        }
    }
}
