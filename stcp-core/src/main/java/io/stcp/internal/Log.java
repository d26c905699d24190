package io.stcp.internal;

import io.stcp.Connection;
import io.stcp.MetaInfo;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;
import org.slf4j.spi.LoggingEventBuilder;
import org.slf4j.spi.NOPLoggingEventBuilder;

/**
 * Structured logging helpers. Event names are stable ({@code conn.start}, {@code conn.exit},
 * {@code server.start}, ...); every connection line carries {@code conn} and the MetaInfo fields.
 */
final class Log {
    static final Logger SERVER = LoggerFactory.getLogger("io.stcp.server");
    static final Logger CLIENT = LoggerFactory.getLogger("io.stcp.client");
    static final Logger CONN = LoggerFactory.getLogger("io.stcp.connection");
    static final Level DEBUG = Level.DEBUG;
    static final Level WARN = Level.WARN;
    /**
     * The key of a peer's address, in every line that names one: the default MetaInfo's field on
     * connection lines, and {@code server.reject} and {@code server.accept.handler.failed}.
     */
    static final String REMOTE_ADDR = "remoteAddr";
    /** Why the slf4j-api on the class path cannot serve stcp, or null: see {@link #requireSlf4j2()}. */
    private static final @Nullable String SLF4J_PROBLEM = slf4jProblem(Logger.class);

    private Log() {}

    /**
     * Fails unless the slf4j-api stcp runs with is 2.x: every line stcp logs uses its fluent API
     * ({@code Logger.atInfo()}...), which 1.7 lacks. A 1.7 that a build picked from another
     * dependency failed a server's {@code start()} with a {@link NoSuchMethodError} once it was
     * bound and accepting, and then every connection's thread; a server or a client checks this
     * first instead.
     *
     * @throws IllegalStateException naming the slf4j-api found, where, and the fix
     */
    static void requireSlf4j2() {
        if (SLF4J_PROBLEM != null) {
            throw new IllegalStateException(SLF4J_PROBLEM);
        }
    }

    /**
     * Whether the slf4j-api stcp runs with is 2.x, so that a line can be logged. Only a line that
     * can come without a {@link #requireSlf4j2() start}, as a server's or a client's stop line after
     * a close that came first, needs to ask: it is skipped under 1.7, whose {@code Logger} would fail
     * it with a {@link NoSuchMethodError}.
     */
    static boolean hasSlf4j2() {
        return SLF4J_PROBLEM == null;
    }

    /** Why {@code logger}, SLF4J's {@code Logger} as loaded, cannot serve stcp; null if it can. */
    private static @Nullable String slf4jProblem(Class<?> logger) {
        try {
            logger.getMethod("atInfo");
            return null;
        } catch (NoSuchMethodException e) {
            String version = logger.getPackage() == null ? null : logger.getPackage().getImplementationVersion();
            java.security.CodeSource source = logger.getProtectionDomain().getCodeSource();
            return "stcp needs slf4j-api 2.x (its fluent logging API), but the class path has slf4j-api "
                    + (version == null ? "1.x" : version) + (source == null ? "" : " (" + source.getLocation() + ")")
                    + ", whose Logger has no atInfo(): pin org.slf4j:slf4j-api to 2.0.x in your build (Maven:"
                    + " dependencyManagement; Gradle: a constraint) and use an SLF4J 2 binding (Logback 1.3+,"
                    + " slf4j-simple 2.x, log4j-slf4j2-impl)";
        }
    }

    /** A line about {@code connection} at {@code level}, with its id and metadata fields. */
    static LoggingEventBuilder conn(Level level, String event, Connection connection) {
        if (!CONN.isEnabledForLevel(level)) {
            return NOPLoggingEventBuilder.singleton();
        }
        LoggingEventBuilder b = CONN.atLevel(level).setMessage(event).addKeyValue("conn", connection.id());
        MetaInfo meta = connection.metaInfo();
        try {
            meta.forEachField(b::addKeyValue);
        } catch (RuntimeException | Error e) { // the user's code, whatever it throws: the line goes out all the same
            b.addKeyValue("metaError", e.toString());
        }
        return b;
    }

    /**
     * A WARN line about {@code connection}, rate-limited per server and event name (see
     * {@link ExitLog#warn}): {@code conn.hook.failed}, {@code conn.sender.failed} and the like.
     */
    static LoggingEventBuilder connWarn(String event, RealConnection connection) {
        return connection.context().exitLog().warn(event, connection);
    }

    /**
     * Adds {@code suppressed}, the lines of a rate-limited event held back since its last one, when
     * there were any: every rate-limited line follows this one rule, so a query for
     * {@code suppressed} finds exactly the lines that stand for more than themselves.
     */
    static LoggingEventBuilder suppressed(LoggingEventBuilder line, long held) {
        return held > 0 ? line.addKeyValue("suppressed", held) : line;
    }
}
