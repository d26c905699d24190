package io.stcp.internal;

import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;

/**
 * Chooses how accepted sockets wait for I/O: through a {@link ReadinessSource} found on the class
 * or module path (a native transport such as {@code stcp-epoll}), or the JDK's own blocking
 * channels. The system property {@value #PROPERTY} picks: {@code auto} (default: native when
 * available, else JDK), {@code jdk}, or a source's name, which must then be available.
 */
public final class Transports {
    public static final String PROPERTY = "io.stcp.transport";

    private static final Choice CHOICE = choose(System.getProperty(PROPERTY, "auto").trim());

    private Transports() {}

    /** The source accepted sockets use, or {@code null} for the JDK's blocking channels. */
    public static ReadinessSource source() {
        if (CHOICE.error != null) {
            throw new IllegalStateException(CHOICE.error);
        }
        return CHOICE.source;
    }

    /**
     * The source for connections made outside a server: as {@link #source()}, but when the chosen
     * transport is unavailable those use the JDK's sockets (a server's {@code start()} reports the
     * error instead).
     */
    static ReadinessSource sourceOrNull() {
        return CHOICE.source;
    }

    /** The transport's name for logs: {@code jdk} or the source's name. */
    public static String name() {
        return CHOICE.source == null ? "jdk" : CHOICE.source.name();
    }

    record Choice(ReadinessSource source, String error) {}

    static Choice choose(String wanted) {
        return choose(wanted, () -> ServiceLoader.load(ReadinessSource.class, ReadinessSource.class.getClassLoader()).iterator());
    }

    /** As {@link #choose(String)}, among {@code sources} (the service loader's; a test's). */
    static Choice choose(String wanted, Iterable<ReadinessSource> sources) {
        if (wanted.equals("jdk")) {
            return new Choice(null, null);
        }
        StringBuilder reasons = new StringBuilder();
        try {
            for (ReadinessSource s : sources) {
                if (!wanted.equals("auto") && !wanted.equals(s.name())) {
                    continue;
                }
                String reason = s.unavailableReason();
                if (reason == null) {
                    return new Choice(s, null);
                }
                reasons.append("; ").append(s.name()).append(": ").append(reason);
            }
        } catch (ServiceConfigurationError | LinkageError e) {
            // a native transport built for a newer JDK than this one, for example
            reasons.append("; ").append(e);
        }
        if (reasons.length() > 0) {
            // The module is there but cannot be used (a JVM flag missing, say): the user wanted it,
            // so say loudly that the slower transport runs instead, and why.
            Log.SERVER.atWarn().setMessage("server.transport.unavailable")
                    .addKeyValue("error", reasons.substring(2)).addKeyValue("using", "jdk").log();
        }
        if (wanted.equals("auto")) {
            return new Choice(null, null);
        }
        return new Choice(null, PROPERTY + "=" + wanted + " but that transport is not available"
                + (reasons.length() > 0 ? ": " + reasons.substring(2) : " (not on the class path)"));
    }
}
