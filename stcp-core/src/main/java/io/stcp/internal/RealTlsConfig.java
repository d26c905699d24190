package io.stcp.internal;

import io.stcp.Durations;
import io.stcp.TlsConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSessionContext;
import org.jspecify.annotations.Nullable;

/**
 * The {@link TlsConfig} implementation: the settings, validated once; where the key material
 * comes from ({@link TlsMaterial}) and the context built from it in use ({@link #context}, swapped
 * whole by a reload); the engines made from it; the counters.
 *
 * <p>A reload builds a complete new {@link SSLContext} first and then replaces the volatile
 * reference, so a handshake sees either the old material or the new, never a mix; engines made
 * before keep their context (and their sessions). Reloads are serialized by {@link #reloadLock}.
 */
public final class RealTlsConfig implements TlsConfig {
    /** The longest lifetime of a TLS 1.3 session ticket, in seconds (RFC 8446, 4.6.1): 7 days. */
    static final int MAX_TICKET_LIFETIME = 7 * 24 * 3600;

    private final TlsMaterial material;
    private final boolean fixedContext;    // built from a ready SSLContext: nothing to reload from
    private final ClientAuth clientAuth;
    private final List<String> protocols;
    private final List<String> cipherSuites;
    private final List<String> applicationProtocols;
    private final Duration handshakeTimeout;
    private final Duration watchInterval;
    private final boolean client;
    private final String serverName;       // null: the host dialled (always null on a server)

    private volatile SSLContext context;
    private volatile @Nullable DefaultSuites defaultSuites; // with no cipherSuites: those of the context in use, ordered
    private final ReentrantLock reloadLock = new ReentrantLock();
    private volatile List<TlsMaterial.FileStamp> loadedStamps = List.of(); // guarded by reloadLock for writes
    private final LongAdder handshakes = new LongAdder();
    private final LongAdder failures = new LongAdder();
    private final LongAdder reloads = new LongAdder();

    /** Called by {@link TlsConfig.Builder#build()}: validates, then loads. */
    public RealTlsConfig(Path certificateChain, Path privateKey, KeyStore keyStore, Path keyStoreFile,
                         char[] keyStorePassword, SSLContext sslContext, Path trustPem, KeyStore trustStore,
                         ClientAuth clientAuth, List<String> protocols, List<String> cipherSuites,
                         List<String> applicationProtocols, Duration handshakeTimeout, Duration watchInterval,
                         boolean client, String serverName)
            throws IOException, GeneralSecurityException {
        int sources = (certificateChain != null ? 1 : 0) + (keyStore != null ? 1 : 0) + (keyStoreFile != null ? 1 : 0)
                + (sslContext != null ? 1 : 0);
        if (sources > 1 || (sources == 0 && !client)) {
            throw new IllegalArgumentException((sources == 0 ? "no key material" : "more than one key source")
                    + " (expected: one of pem(chain, key), keyStore(...) or sslContext(...))");
        }
        if (client) {
            checkClient(clientAuth, watchInterval, serverName);
        } else if (serverName != null) {
            throw new IllegalArgumentException("serverName: \"" + serverName
                    + "\" on a server's config (expected: only with TlsConfig.clientBuilder())");
        }
        if (sslContext != null && (trustPem != null || trustStore != null)) {
            throw new IllegalArgumentException("trustPem/trustStore: set with a ready sslContext, whose own trust"
                    + " managers decide (expected: one or the other)");
        }
        if (trustPem != null && trustStore != null) {
            throw new IllegalArgumentException("trustPem and trustStore: both set (expected: one)");
        }
        if (!client && clientAuth == ClientAuth.NONE && (trustPem != null || trustStore != null)) {
            throw new IllegalArgumentException((trustPem != null ? "trustPem" : "trustStore") + ": set on a server"
                    + " with clientAuth NONE (expected: clientAuth OPTIONAL or REQUIRED; a server checks only the"
                    + " client certificates it asks for, so the CAs would never be used)");
        }
        if (clientAuth != ClientAuth.NONE && sslContext == null && trustPem == null && trustStore == null) {
            throw new IllegalArgumentException("clientAuth: " + clientAuth
                    + " without a trust store (expected: trustPem(caBundle) or trustStore(keyStore))");
        }
        if (protocols.isEmpty()) {
            throw new IllegalArgumentException("protocols: none (expected: e.g. TLSv1.3, TLSv1.2)");
        }
        for (String p : applicationProtocols) {
            if (p.isEmpty() || p.length() > 255) {
                throw new IllegalArgumentException("applicationProtocols: \"" + p + "\" (expected: 1..255 characters)");
            }
        }
        boolean watching = !(watchInterval.isNegative() || watchInterval.isZero());
        if (watching && sslContext != null) {
            throw new IllegalArgumentException("watch: " + Durations.format(watchInterval)
                    + " with a ready sslContext (expected: PEM or key store files to watch)");
        }
        if (watching && keyStore != null && trustPem == null) {
            throw new IllegalArgumentException("watch: " + Durations.format(watchInterval)
                    + " with an in-memory key store (expected: PEM or key store files to watch)");
        }
        this.material = new TlsMaterial(certificateChain, privateKey, keyStore, keyStoreFile, keyStorePassword, trustPem,
                trustStore);
        this.fixedContext = sslContext != null;
        this.clientAuth = Objects.requireNonNull(clientAuth, "clientAuth");
        this.protocols = List.copyOf(protocols);
        this.cipherSuites = List.copyOf(cipherSuites);
        this.applicationProtocols = List.copyOf(applicationProtocols);
        this.handshakeTimeout = handshakeTimeout.isNegative() ? Duration.ZERO : handshakeTimeout;
        this.watchInterval = watching ? watchInterval : Duration.ZERO;
        this.client = client;
        this.serverName = serverName;
        // The stamps before the load, as reload() takes them: files changed during it are loaded again by the watch.
        List<TlsMaterial.FileStamp> stamps = material.stamps();
        SSLContext ctx = sslContext != null ? sslContext : material.load();
        checkSupported(ctx);
        if (sslContext == null) {
            keepNoTickets(ctx); // a context given is the application's, maybe shared: left as it is
        }
        this.context = ctx;
        this.loadedStamps = stamps;
    }

    /**
     * The stcp config behind {@code config}, or null for null.
     *
     * @throws IllegalArgumentException if it was not built by {@link TlsConfig#builder()}
     */
    public static RealTlsConfig of(TlsConfig config) {
        if (config == null || config instanceof RealTlsConfig) {
            return (RealTlsConfig) config;
        }
        throw new IllegalArgumentException("tls: a " + config.getClass().getName()
                + " (expected: one built by TlsConfig.builder())");
    }

    /** The checks of a client's settings: no server-only ones, a server name SNI can carry. */
    private static void checkClient(ClientAuth clientAuth, Duration watchInterval, String serverName) {
        if (clientAuth != ClientAuth.NONE) {
            throw new IllegalArgumentException("clientAuth: " + clientAuth
                    + " on a client's config (expected: NONE; a server asks for client certificates)");
        }
        if (!(watchInterval.isNegative() || watchInterval.isZero())) {
            throw new IllegalArgumentException("watch: " + Durations.format(watchInterval)
                    + " on a client's config (expected: none; call reload() when the files change)");
        }
        if (serverName != null) {
            try {
                tlsName(serverName);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("serverName: \"" + serverName + "\" (expected: a host name: "
                        + e.getMessage() + ")");
            }
        }
    }

    /**
     * The name a client sends as SNI and checks the server's certificate against for {@code host}:
     * an IP address as it is; a host name without the trailing dot of an absolute DNS name
     * ({@code "db.example."}), which neither SNI nor certificates carry.
     *
     * @throws IllegalArgumentException if {@code host} is no name SNI can carry and the JDK can
     *     check — one with an {@code _}, say — with the JDK's reason
     */
    public static String tlsName(String host) {
        if (TlsLayer.isAddressLiteral(host)) {
            return host;
        }
        String name = host.length() > 1 && host.endsWith(".") ? host.substring(0, host.length() - 1) : host;
        new SNIHostName(name); // the JDK's check of a certificate's name applies the same rules
        return name;
    }

    /**
     * The stcp config behind a server's {@code config}, or null for null.
     *
     * @throws IllegalArgumentException naming {@code tls} if it is not a server's built by {@link TlsConfig#builder()}
     */
    public static RealTlsConfig forServer(TlsConfig config) {
        RealTlsConfig c = of(config);
        if (c != null && c.client) {
            throw new IllegalArgumentException("tls: a client's TlsConfig (expected: one built by TlsConfig.builder())");
        }
        return c;
    }

    /**
     * The stcp config behind a client's {@code config}, or null for null.
     *
     * @throws IllegalArgumentException naming {@code tls} if it is not a client's built by {@link TlsConfig#clientBuilder()}
     */
    public static RealTlsConfig forClient(TlsConfig config) {
        RealTlsConfig c = of(config);
        if (c != null && !c.client) {
            throw new IllegalArgumentException("tls: a server's TlsConfig (expected: one built by TlsConfig.clientBuilder())");
        }
        return c;
    }

    /**
     * Checks the protocols and cipher suites against what {@code ctx} supports, then that a
     * handshake can start with each protocol and with the whole: the JDK lists among its supported
     * protocols those its security policy disables ({@code jdk.tls.disabledAlgorithms}: SSLv3,
     * TLSv1, TLSv1.1), and with only those, or with cipher suites none of the protocols can use,
     * every handshake would fail ("No appropriate protocol").
     */
    private void checkSupported(SSLContext ctx) {
        SSLParameters supported = ctx.getSupportedSSLParameters();
        checkSubset("protocols", protocols, supported.getProtocols());
        checkSubset("cipherSuites", cipherSuites, supported.getCipherSuites());
        for (String p : protocols) {
            if (isHandshake(p) && !usableAlone(ctx, p)) {
                List<String> usable = Arrays.stream(supported.getProtocols())
                        .filter(q -> isHandshake(q) && usableAlone(ctx, q)).toList();
                throw new IllegalArgumentException("protocols: " + p + " is disabled by this JDK's security policy"
                        + " (jdk.tls.disabledAlgorithms): every handshake with it would fail (expected: some of " + usable + ")");
            }
        }
        String why = cannotStart(ctx, protocols, cipherSuites);
        if (why != null) {
            throw new IllegalArgumentException((cipherSuites.isEmpty() ? "protocols: " + protocols
                    : "cipherSuites: " + cipherSuites + " with the protocols " + protocols)
                    + ": no handshake can start (" + why + ")");
        }
    }

    /**
     * On a client's context made here (from its files, not one given), has the JDK drop the TLS 1.3
     * session tickets servers send. The JDK's
     * client (SunJSSE's {@code NewSessionTicket} consumer) makes each ticket a session of its own,
     * about 600 bytes of heap from as little as 18 bytes of the server's, and keeps it among the
     * connection's session's children ({@code SSLSessionImpl.childSessions}, unbounded) for as long
     * as that session lives: no limit of the JDK's bounds that list (the session cache's size bounds
     * only the cache), so a server could fill the client's heap with tickets, hundreds to a record.
     * The one thing the JDK honours is this: it drops every ticket when the client session
     * context's timeout exceeds a ticket's longest lifetime, 7 days. What is given up is TLS 1.3
     * resumption on reconnect (TLS 1.2's session ids are kept, and for longer): a reconnect makes
     * a full handshake. A context given is left as it is: it is the application's, and may serve
     * other clients of the process ({@link #keepsTickets}).
     */
    private void keepNoTickets(SSLContext ctx) {
        if (!client) {
            return;
        }
        SSLSessionContext sessions = ctx.getClientSessionContext();
        if (sessions != null && sessions.getSessionTimeout() <= MAX_TICKET_LIFETIME) { // 0, no timeout, too
            sessions.setSessionTimeout(MAX_TICKET_LIFETIME + 1);
        }
    }

    /**
     * Whether a client engine of {@code ctx} keeps the session tickets servers send, for its
     * connection's life: unless it is SunJSSE's and its client session timeout is over 7 days
     * ({@link #keepNoTickets}). Another provider may keep them, whatever its timeout.
     */
    static boolean keepsTickets(SSLContext ctx) {
        if (!"SunJSSE".equals(ctx.getProvider().getName())) {
            return true;
        }
        SSLSessionContext sessions = ctx.getClientSessionContext();
        return sessions == null || sessions.getSessionTimeout() <= MAX_TICKET_LIFETIME; // 0 is no timeout
    }

    /** An engine for one connection, and whether it keeps what a peer's records without data bring (a client's session tickets). */
    record Engine(SSLEngine engine, boolean keepsTickets) {}

    /** Whether {@code protocol} is one a handshake runs with: SSLv2Hello is only the format of a hello. */
    private static boolean isHandshake(String protocol) {
        return !protocol.equals("SSLv2Hello");
    }

    /** Whether a handshake can start with {@code protocol} alone and the JDK's default cipher suites. */
    private boolean usableAlone(SSLContext ctx, String protocol) {
        return cannotStart(ctx, List.of(protocol), List.of()) == null;
    }

    /** Why a handshake cannot start with these protocols and cipher suites (none: the JDK's defaults), or null if it can. */
    private @Nullable String cannotStart(SSLContext ctx, List<String> protocols, List<String> cipherSuites) {
        SSLEngine engine = ctx.createSSLEngine();
        engine.setUseClientMode(client);
        SSLParameters p = engine.getSSLParameters();
        p.setProtocols(protocols.toArray(new String[0]));
        if (!cipherSuites.isEmpty()) {
            p.setCipherSuites(cipherSuites.toArray(new String[0]));
        }
        engine.setSSLParameters(p);
        try {
            engine.beginHandshake(); // no bytes go anywhere: the engine is dropped
            return null;
        } catch (SSLException e) {
            return e.getMessage();
        } finally {
            engine.closeOutbound();
        }
    }

    private static void checkSubset(String name, List<String> asked, String[] supported) {
        List<String> known = Arrays.asList(supported);
        for (String s : asked) {
            if (!known.contains(s)) {
                throw new IllegalArgumentException(name + ": " + s + " is not supported by this JDK (expected: some of "
                        + known + ")");
            }
        }
    }

    // ---------------------------------------------------------------- engines (the TLS layer)

    /** A server-mode engine from the material in use, with this config's parameters: it keeps no tickets (a client sends none). */
    Engine newServerEngine() {
        SSLContext ctx = context;
        SSLEngine engine = ctx.createSSLEngine();
        engine.setUseClientMode(false);
        SSLParameters p = parameters(ctx, engine);
        switch (clientAuth) {
            case REQUIRED -> p.setNeedClientAuth(true);
            case OPTIONAL -> p.setWantClientAuth(true);
            case NONE -> p.setWantClientAuth(false);
        }
        engine.setSSLParameters(p);
        return new Engine(engine, false);
    }

    /**
     * A client-mode engine for a connection to {@code host} (or {@link #serverName()} when set):
     * it sends the name as SNI unless it is an address, and checks the server's certificate
     * against it by the HTTPS rules (RFC 2818: DNS names with a leftmost wildcard, IP addresses);
     * an absolute name's trailing dot is left off for both ({@link #tlsName}).
     *
     * @param host the host dialled, or null when there is none (a Unix socket: then the server
     *     name is set, {@link io.stcp.ClientConfig} makes sure of it)
     * @param port the port dialled, a hint for session resumption; -1 if none
     */
    Engine newClientEngine(String host, int port) {
        String name = tlsName(Objects.requireNonNull(serverName != null ? serverName : host, "serverName"));
        SSLContext ctx = context;
        SSLEngine engine = ctx.createSSLEngine(name, port);
        engine.setUseClientMode(true);
        SSLParameters p = parameters(ctx, engine);
        p.setEndpointIdentificationAlgorithm("HTTPS");
        if (!TlsLayer.isAddressLiteral(name)) {
            p.setServerNames(List.of(new SNIHostName(name)));
        }
        engine.setSSLParameters(p);
        return new Engine(engine, keepsTickets(ctx));
    }

    /**
     * The parameters of {@code engine}, made by {@code ctx}, with this config's protocols, cipher
     * suites (with none configured, the engine's own in {@link CipherOrder}'s order) and ALPN protocols.
     */
    private SSLParameters parameters(SSLContext ctx, SSLEngine engine) {
        SSLParameters p = engine.getSSLParameters();
        p.setProtocols(protocols.toArray(new String[0]));
        p.setCipherSuites(cipherSuites.isEmpty() ? defaultSuites(ctx, p) : cipherSuites.toArray(new String[0]));
        if (!applicationProtocols.isEmpty()) {
            p.setApplicationProtocols(applicationProtocols.toArray(new String[0]));
        }
        return p;
    }

    /** What a context's engines enable by default, ordered once per context (a reload may bring another provider). */
    private record DefaultSuites(SSLContext context, String[] suites) {}

    private String[] defaultSuites(SSLContext ctx, SSLParameters enginesOwn) {
        DefaultSuites d = defaultSuites;
        if (d == null || d.context() != ctx) {
            d = new DefaultSuites(ctx, CipherOrder.aes128First(enginesOwn.getCipherSuites()));
            defaultSuites = d; // racing first handshakes each order the same suites: any may win
        }
        return d.suites(); // setCipherSuites copies it
    }

    void countHandshake() {
        handshakes.increment();
    }

    void countFailure() {
        failures.increment();
    }

    // ---------------------------------------------------------------- reload and watch

    @Override
    public void reload() throws IOException, GeneralSecurityException {
        if (fixedContext) {
            throw new IllegalStateException("built from a ready SSLContext: nothing to read again (use reload(SSLContext))");
        }
        reloadLock.lock();
        try {
            List<TlsMaterial.FileStamp> before = material.stamps();
            SSLContext ctx = material.load();
            checkSupported(ctx);
            keepNoTickets(ctx);
            context = ctx;
            loadedStamps = before;
            reloads.increment();
        } finally {
            reloadLock.unlock();
        }
    }

    @Override
    public void reload(SSLContext context) {
        Objects.requireNonNull(context, "context");
        checkSupported(context);
        reloadLock.lock();
        try {
            this.context = context;
            reloads.increment();
        } finally {
            reloadLock.unlock();
        }
    }

    /** Where the key material comes from: what a watch polls. */
    TlsMaterial material() {
        return material;
    }

    /** The stamps of the files as last loaded. */
    List<TlsMaterial.FileStamp> loadedStamps() {
        return loadedStamps;
    }

    // ---------------------------------------------------------------- TlsConfig

    @Override
    public List<String> protocols() {
        return protocols;
    }

    @Override
    public List<String> cipherSuites() {
        return cipherSuites;
    }

    @Override
    public List<String> applicationProtocols() {
        return applicationProtocols;
    }

    @Override
    public ClientAuth clientAuth() {
        return clientAuth;
    }

    @Override
    public boolean isClient() {
        return client;
    }

    @Override
    public String serverName() {
        return serverName;
    }

    @Override
    public Duration handshakeTimeout() {
        return handshakeTimeout;
    }

    @Override
    public Duration watchInterval() {
        return watchInterval;
    }

    @Override
    public SSLContext sslContext() {
        return context;
    }

    @Override
    public long handshakes() {
        return handshakes.sum();
    }

    @Override
    public long handshakeFailures() {
        return failures.sum();
    }

    @Override
    public long reloads() {
        return reloads.sum();
    }

    @Override
    public String toString() {
        String source = fixedContext ? "sslContext" : material.keySource();
        if (client) {
            return "TlsConfig[client, " + source + ", trust=" + (fixedContext ? "sslContext" : material.trustSource())
                    + ", serverName=" + serverName + ", protocols=" + protocols + "]";
        }
        return "TlsConfig[" + source + ", protocols=" + protocols + ", clientAuth=" + clientAuth + "]";
    }
}
