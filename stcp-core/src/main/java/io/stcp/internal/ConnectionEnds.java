package io.stcp.internal;

import io.stcp.BasicMetaInfo;
import io.stcp.MetaInfo;
import io.stcp.ProxyHeader;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.SocketAddress;
import java.util.Objects;

/**
 * Who is at each end of a connection: the addresses the socket reports, corrected by a PROXY
 * header once the PROXY layer has read one (the proxy then becomes {@link #proxiedBy()}), and the
 * connection's {@link MetaInfo}, which names the remote address until the application replaces it.
 * Safe from any thread; the PROXY layer writes before the connection is shared.
 */
final class ConnectionEnds {
    private static final VarHandle METAINFO = Fields.handle(MethodHandles.lookup(), "metaInfo", MetaInfo.class);

    private volatile SocketAddress remote;      // the client's once a PROXY header named it
    private volatile SocketAddress local;
    private volatile ProxyHeader proxyHeader;   // set once, by the PROXY layer
    private volatile SocketAddress proxiedBy;
    private volatile MetaInfo metaInfo;         // null: the default, made when first asked for

    ConnectionEnds(SocketAddress remote, SocketAddress local) {
        this.remote = remote;
        this.local = local;
    }

    SocketAddress remote() {
        return remote;
    }

    SocketAddress local() {
        return local;
    }

    /** Sets the local address a Unix socket server's clients connect to (the channel knows the name it was bound under). */
    void local(SocketAddress address) {
        local = address;
    }

    /** The proxy's address, or null if no PROXY header named a client. */
    SocketAddress proxiedBy() {
        return proxiedBy;
    }

    /** The PROXY header read, or null. */
    ProxyHeader proxyHeader() {
        return proxyHeader;
    }

    /**
     * The PROXY layer read {@code header}: the client's address (if it names one) becomes the
     * remote address and, while the metadata is still the default, the metadata's address.
     */
    void proxied(ProxyHeader header) {
        SocketAddress socketPeer = remote;
        proxyHeader = header;
        if (header.isLocal()) {
            return;
        }
        proxiedBy = socketPeer;
        SocketAddress client = header.source().orElse(null);
        if (client != null) {
            remote = client;
            if (metaInfo instanceof BasicMetaInfo) {
                metaInfo = null; // the default again, now naming the client
            }
        }
    }

    MetaInfo metaInfo() {
        MetaInfo m = metaInfo;
        if (m != null) {
            return m;
        }
        METAINFO.compareAndSet(this, null, new BasicMetaInfo(HostPort.format(remote)));
        return metaInfo; // the default, or what another thread set meanwhile
    }

    void metaInfo(MetaInfo metaInfo) {
        this.metaInfo = Objects.requireNonNull(metaInfo, "metaInfo");
    }
}
