/**
 * stcp: a TCP server framework where the user writes one blocking connection reader, run on a
 * virtual thread per connection, and queues replies on the connection's {@link io.stcp.Sender}.
 *
 * <p>Exports the API ({@code io.stcp}) and the framing helpers ({@code io.stcp.framing}); the
 * machinery in {@code io.stcp.internal} is exported only to stcp's own modules: the native
 * transport, which provides a {@code ReadinessSource}, and the test kit.
 */
@SuppressWarnings("module") // the targets of the qualified export are built after this module
module io.stcp {
    requires transitive org.slf4j;
    requires jdk.net; // SO_PEERCRED: the credentials of a Unix socket's peer
    // Flight Recorder events (internal.JfrEvents): part of every JDK, free when no recording runs.
    requires jdk.jfr;
    // sun.misc.Signal, for runUntilSignal (internal.Signals, by reflection): without this, an
    // application on the module path does not resolve the module, and a SIGTERM ends the JVM (143).
    requires jdk.unsupported;
    // javax.naming.ldap.LdapName, for TlsInfo.peerCommonName: an RFC 2253 parser (escapes, multi-valued RDNs).
    requires java.naming;
    // JSpecify's nullness annotations: read by users' compilers and checkers, never needed at run time.
    requires static transitive org.jspecify;

    exports io.stcp;
    exports io.stcp.framing;
    exports io.stcp.internal to io.stcp.epoll, io.stcp.test;

    uses io.stcp.internal.ReadinessSource;
}
