package io.stcp.internal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The order of the cipher suites a TLS config uses when it names none: the JDK's enabled suites
 * (its security policy already applied), in the JDK's order, except that each AES-128-GCM suite
 * moves to just before its AES-256-GCM counterpart ({@code TLS_AES_128_GCM_SHA256} before
 * {@code TLS_AES_256_GCM_SHA384}; {@code TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256} before
 * {@code TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}). A JDK server picks by its own order, so a
 * peer that offers both gets AES-128-GCM: TLS 1.3's mandatory suite (RFC 8446, 9.1), the one Netty,
 * BoringSSL and Go's crypto/tls prefer, and cheaper per byte (10 AES rounds instead of 14). No
 * suite is added or removed, and every other suite keeps its place.
 */
final class CipherOrder {
    private static final String AES_256 = "AES_256_GCM_SHA384";
    private static final String AES_128 = "AES_128_GCM_SHA256";

    private CipherOrder() {}

    /** {@code suites} with each AES-128-GCM suite just before its AES-256-GCM counterpart, when both are there. */
    static String[] aes128First(String[] suites) {
        Set<String> present = new HashSet<>(Arrays.asList(suites));
        Set<String> placed = new HashSet<>();
        List<String> ordered = new ArrayList<>(suites.length);
        for (String s : suites) {
            if (!placed.add(s)) {
                continue; // an AES-128 suite placed before its AES-256 counterpart already
            }
            String counterpart = s.endsWith(AES_256) ? s.substring(0, s.length() - AES_256.length()) + AES_128 : null;
            if (counterpart != null && present.contains(counterpart) && placed.add(counterpart)) {
                ordered.add(counterpart);
            }
            ordered.add(s);
        }
        return ordered.toArray(new String[0]);
    }
}
