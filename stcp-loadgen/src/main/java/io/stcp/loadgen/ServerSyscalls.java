package io.stcp.loadgen;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Counts the system calls another process makes during a window, with Linux {@code perf stat} on
 * the tracepoint {@code raw_syscalls:sys_enter} (a software event: it works where hardware
 * counters do not, but needs perf and the permission to trace the process).
 */
final class ServerSyscalls {
    private final Process perf;
    private final Duration window;

    private ServerSyscalls(Process perf, Duration window) {
        this.perf = perf;
        this.window = window;
    }

    /** Starts counting now for {@code window}; null when perf cannot be started. */
    static ServerSyscalls start(long pid, Duration window) {
        try {
            Process p = new ProcessBuilder("perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p",
                    Long.toString(pid), "--", "sleep", String.format(Locale.ROOT, "%.3f", window.toNanos() / 1e9))
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            return new ServerSyscalls(p, window);
        } catch (IOException e) {
            return null;
        }
    }

    /** Waits for the window to end; the count, or -1 when perf could not count. */
    long await() throws InterruptedException {
        if (!perf.waitFor(window.toMillis() + 10_000, TimeUnit.MILLISECONDS)) {
            perf.destroyForcibly();
            return -1;
        }
        try {
            // CSV: "count,unit,event,...", or "<not counted>,..." / "<not supported>,..."
            for (String line : new String(perf.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                String[] f = line.split(",");
                if (f.length > 2 && f[2].equals("raw_syscalls:sys_enter")) {
                    return Long.parseLong(f[0]);
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
