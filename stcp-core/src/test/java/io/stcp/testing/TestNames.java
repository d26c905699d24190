package io.stcp.testing;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.net.spi.InetAddressResolver;
import java.net.spi.InetAddressResolverProvider;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Host names of the tests' own, under {@code .stcp.test}, resolved by the JVM's own resolver
 * (this provider, registered in {@code META-INF/services}): a name with several addresses, in a
 * given order, without touching {@code /etc/hosts} or a DNS server. Every other name, and every
 * reverse lookup, goes to the JVM's built-in resolver. The JVM caches an answer (30 s), so a test
 * defines a name of its own and does not change it.
 */
public final class TestNames extends InetAddressResolverProvider {
    private static final String SUFFIX = ".stcp.test";
    private static final Map<String, List<InetAddress>> NAMES = new ConcurrentHashMap<>();

    /**
     * Makes {@code name} (ending in {@code .stcp.test}) resolve to {@code addresses} (IP literals),
     * in that order; returns the name.
     */
    public static String define(String name, String... addresses) {
        String key = name.toLowerCase(Locale.ROOT);
        if (!key.endsWith(SUFFIX) || addresses.length == 0) {
            throw new IllegalArgumentException("name: \"" + name + "\" (expected: *" + SUFFIX + " and one address or more)");
        }
        List<InetAddress> all = new ArrayList<>();
        for (String a : addresses) {
            try {
                all.add(InetAddress.getByAddress(name, InetAddress.getByName(a).getAddress()));
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException("address: \"" + a + "\"", e);
            }
        }
        if (NAMES.putIfAbsent(key, List.copyOf(all)) != null) {
            throw new IllegalStateException("name: \"" + name + "\" defined already (the JVM caches it: use another)");
        }
        return name;
    }

    @Override
    public InetAddressResolver get(Configuration configuration) {
        InetAddressResolver builtin = configuration.builtinResolver();
        return new InetAddressResolver() {
            @Override
            public Stream<InetAddress> lookupByName(String host, LookupPolicy policy) throws UnknownHostException {
                String key = host.toLowerCase(Locale.ROOT);
                if (!key.endsWith(SUFFIX)) {
                    return builtin.lookupByName(host, policy);
                }
                List<InetAddress> all = NAMES.get(key);
                if (all == null) {
                    throw new UnknownHostException(host + " (not defined by TestNames)");
                }
                return all.stream();
            }

            @Override
            public String lookupByAddress(byte[] addr) throws UnknownHostException {
                return builtin.lookupByAddress(addr);
            }
        };
    }

    @Override
    public String name() {
        return "stcp test names";
    }
}
