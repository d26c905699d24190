package io.stcp.epoll;

import io.stcp.internal.Readiness;
import io.stcp.internal.ReadinessSource;
import java.io.IOException;
import java.nio.channels.SocketChannel;

/**
 * The Linux epoll transport for stcp, found by {@link java.util.ServiceLoader}: with this module
 * on the class or module path and the JVM flags below, stcp servers wait for socket readiness
 * through one edge-triggered epoll registration per connection instead of the JDK's per-wait
 * one-shot re-arming, which saves two system calls per request/response exchange.
 *
 * <p>Needs Linux on x86-64 or AArch64, JDK 22+, and
 * {@code --enable-native-access=ALL-UNNAMED --add-exports java.base/sun.nio.ch=ALL-UNNAMED}
 * (on the module path: {@code =io.stcp.epoll}). Without any of these, stcp logs why once
 * ({@code server.transport.unavailable}) and uses the JDK transport.
 */
public final class EpollReadinessSource implements ReadinessSource {

    /** Called by {@link java.util.ServiceLoader}; does nothing until first used. */
    public EpollReadinessSource() {}

    @Override
    public String name() {
        return "epoll";
    }

    @Override
    public String unavailableReason() {
        return Holder.UNAVAILABLE;
    }

    @Override
    public Readiness register(SocketChannel channel) throws IOException {
        if (Holder.POLLER == null) {
            throw new IOException("epoll transport unavailable: " + Holder.UNAVAILABLE);
        }
        return Holder.POLLER.register(channel);
    }

    /** Sockets registered and not yet closed; for tests. */
    static int registeredCount() {
        return Holder.POLLER == null ? 0 : Holder.POLLER.registeredCount();
    }

    /** Checks once, and starts the poller once, when first asked. */
    private static final class Holder {
        static final EpollPoller POLLER;
        static final String UNAVAILABLE;

        static {
            EpollPoller poller = null;
            String reason = check();
            if (reason == null) {
                try {
                    poller = new EpollPoller("stcp-epoll");
                } catch (IOException | RuntimeException | LinkageError e) {
                    reason = "cannot start the epoll poller: " + e;
                }
            }
            POLLER = poller;
            UNAVAILABLE = reason;
        }

        private static String check() {
            if (!System.getProperty("os.name", "").startsWith("Linux")) {
                return "not Linux";
            }
            if (!System.getProperty("os.arch", "").matches("amd64|x86_64|aarch64")) {
                return "unsupported architecture " + System.getProperty("os.arch");
            }
            if (!EpollReadinessSource.class.getModule().isNativeAccessEnabled()) {
                return "native access is not enabled for " + EpollReadinessSource.class.getModule()
                        + " (run with --enable-native-access=ALL-UNNAMED)";
            }
            return Fds.UNAVAILABLE;
        }
    }
}
