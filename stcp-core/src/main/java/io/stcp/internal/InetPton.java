package io.stcp.internal;

import java.util.Arrays;

/**
 * Address text read by the rules of {@code inet_pton(3)}, which the PROXY protocol's version 1
 * header follows: its specification writes IPv4 as exactly four decimal numbers 0..255 with no
 * heading zeroes ("in order to avoid any possible confusion with octal numbers"), and IPv6 as
 * groups of up to four hex digits with at most one {@code ::}, decoding to exactly 128 bits;
 * HAProxy reads a {@code TCP6} header's addresses with {@code inet_pton(AF_INET6, ...)}.
 *
 * <pre>
 *   IPv4   d.d.d.d         d: 0..255, "0" or no leading zero   10.0.0.1 ✓  010.0.0.1 ✗  1.2.3 ✗
 *   IPv6   h:h:h:h:h:h:h:h h: 1..4 hex digits; one "::" for     2001:db8::7 ✓  ::1 ✓  00001::1 ✗
 *          ...:d.d.d.d     one or more zero groups; an IPv4     ::ffff:10.0.0.1 ✓
 *                          tail (IPv4 rules) as the last 32 bits ::ffff:010.0.0.1 ✗  1::2: ✗
 * </pre>
 * No names, scope ids ({@code %eth0}), brackets or spaces. The JDK's own parser
 * ({@code InetAddress.getByName}) is laxer: it takes {@code ::ffff:010.0.0.1} as 10.0.0.1 and
 * {@code 00001::1} as {@code 1::1}. Pure functions.
 */
final class InetPton {
    private static final int V4 = 4;
    private static final int V6 = 16;

    private InetPton() {}

    /** The four bytes of {@code text}, a dotted quad by the rules above, or null if it is not one. */
    static byte[] ipv4(String text) {
        byte[] b = new byte[V4];
        return ipv4(text, 0, b, 0) ? b : null;
    }

    /**
     * The sixteen bytes of {@code text}, an IPv6 address by the rules above, or null if it is not
     * one. An IPv4-mapped address ({@code ::ffff:a.b.c.d}) is sixteen bytes here too.
     */
    static byte[] ipv6(String text) {
        byte[] b = new byte[V6];
        int n = text.length();
        int i = 0;
        if (n == 0) {
            return null;
        }
        if (text.charAt(0) == ':') {
            if (n == 1 || text.charAt(1) != ':') {
                return null; // a lone leading colon
            }
            i = 1; // the first colon of a leading "::"; the loop takes the second
        }
        int at = 0;           // bytes written
        int gap = -1;         // where "::" stands, in bytes; -1 for none
        int group = 0;        // the hex group being read
        int digits = 0;       // its digits
        int groupStart = i;   // where it began, for an IPv4 tail
        for (; i < n; i++) {
            char c = text.charAt(i);
            int hex = Character.digit(c, 16);
            if (hex >= 0 && c < 0x80) {
                if (digits == 4) {
                    return null;
                }
                group = group << 4 | hex;
                digits++;
            } else if (c == ':') {
                groupStart = i + 1;
                if (digits == 0) {
                    if (gap >= 0) {
                        return null; // a second "::", or ":::"
                    }
                    gap = at;
                    continue;
                }
                if (i + 1 == n || at + 2 > V6) {
                    return null; // a trailing single colon, or more than eight groups
                }
                b[at++] = (byte) (group >> 8);
                b[at++] = (byte) group;
                group = 0;
                digits = 0;
            } else if (c == '.' && at + V4 <= V6 && ipv4(text, groupStart, b, at)) {
                at += V4; // the tail ran to the end
                digits = 0;
                break;
            } else {
                return null;
            }
        }
        if (digits > 0) {
            if (at + 2 > V6) {
                return null;
            }
            b[at++] = (byte) (group >> 8);
            b[at++] = (byte) group;
        }
        if (gap >= 0) {
            if (at == V6) {
                return null; // "::" must stand for at least one group
            }
            int moved = at - gap;
            System.arraycopy(b, gap, b, V6 - moved, moved);
            Arrays.fill(b, gap, V6 - moved, (byte) 0);
            at = V6;
        }
        return at == V6 ? b : null;
    }

    /** Reads {@code text[from ..)} as a dotted quad into {@code to[at .. at+4)}; whether it was one. */
    private static boolean ipv4(String text, int from, byte[] to, int at) {
        int parts = 0;
        int value = 0;
        boolean digit = false;
        for (int i = from; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c >= '0' && c <= '9') {
                if (digit && value == 0) {
                    return false; // a heading zero
                }
                value = value * 10 + (c - '0');
                if (value > 255) {
                    return false;
                }
                digit = true;
            } else if (c == '.' && digit && parts < 3) {
                to[at + parts++] = (byte) value;
                value = 0;
                digit = false;
            } else {
                return false;
            }
        }
        if (!digit || parts != 3) {
            return false;
        }
        to[at + 3] = (byte) value;
        return true;
    }
}
