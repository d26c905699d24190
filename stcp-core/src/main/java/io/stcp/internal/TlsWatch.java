package io.stcp.internal;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * Polls the files of a {@link RealTlsConfig} while a server runs and reloads it when they change
 * ({@link io.stcp.TlsConfig.Builder#watch(Duration)}): one virtual thread per server, started by
 * {@code start()}, ended by the server's close (at once: {@link #stop()} unparks it).
 *
 * <p>A change is a different last-modified time or size of any file (links followed, so a
 * Kubernetes secret's symlink swap counts). A reload that fails — the certificate written but not
 * yet its key — keeps the material in use, logs {@code tls.reload.failed} at WARN once for that
 * state of the files, and is tried again when they change again.
 */
final class TlsWatch {
    private final RealTlsConfig config;
    private final long intervalNanos;
    private final String address;
    private volatile boolean stopped;
    private volatile Thread thread;
    private List<TlsMaterial.FileStamp> failed = List.of(); // watch thread only

    private TlsWatch(RealTlsConfig config, String address) {
        this.config = config;
        this.intervalNanos = Math.max(1_000_000, Nanos.clamp(config.watchInterval())); // centuries: never, in effect
        this.address = address;
    }

    /** Starts watching {@code config}'s files if it asks for a watch; returns null if it does not. */
    static TlsWatch start(RealTlsConfig config, String address) {
        if (config == null || config.watchInterval().isZero()) {
            return null;
        }
        TlsWatch w = new TlsWatch(config, address);
        w.thread = Threads.start("stcp-tls-watch-" + address, w::run);
        return w;
    }

    /** Ends the watch; idempotent, any thread. */
    void stop() {
        stopped = true;
        Thread t = thread;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    private void run() {
        while (!stopped) {
            LockSupport.parkNanos(this, intervalNanos);
            Thread.interrupted(); // nobody should interrupt it; never let that turn the park into a spin
            if (!stopped) {
                check();
            }
        }
    }

    /** Reloads if the files differ from what was loaded (and from a state that failed already). */
    void check() {
        List<TlsMaterial.FileStamp> now = config.material().stamps();
        if (now.equals(config.loadedStamps()) || now.equals(failed)) {
            return;
        }
        try {
            config.reload();
            failed = List.of();
            Log.SERVER.atInfo().setMessage("tls.reload").addKeyValue("address", address)
                    .addKeyValue("files", config.material().files().toString()).log();
        } catch (Exception e) {
            failed = now;
            Log.SERVER.atWarn().setMessage("tls.reload.failed").addKeyValue("address", address)
                    .addKeyValue("error", e.toString()).log();
        }
    }
}
