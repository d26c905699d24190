package io.stcp.loadgen;

/**
 * What a {@link LoadGenerator} run measured in its recorded window.
 *
 * @param connections       connections that took part
 * @param messages          echoed frames received in the window
 * @param seconds           length of the window
 * @param messagesPerSecond {@code messages / seconds}
 * @param p50Micros         median round-trip latency, µs
 * @param p90Micros         90th percentile, µs
 * @param p99Micros         99th percentile, µs
 * @param p999Micros        99.9th percentile, µs
 * @param maxMicros         maximum, µs
 * @param errors            wrong-length replies plus connections lost during the run
 * @param serverCpuMicrosPerMessage the server process's CPU time (user + system) in the window
 *                          divided by the messages, in µs; NaN when the server pid was not given
 * @param serverSyscallsPerMessage the server process's system calls in the window divided by the
 *                          messages; NaN without a server pid or without Linux perf
 */
public record LoadResult(int connections, long messages, double seconds, double messagesPerSecond, long p50Micros,
                         long p90Micros, long p99Micros, long p999Micros, long maxMicros, long errors,
                         double serverCpuMicrosPerMessage, double serverSyscallsPerMessage) {

    /** One line for humans. */
    public String summary() {
        return String.format("%d conns: %,.0f msg/s  p50 %dµs  p90 %dµs  p99 %dµs  p999 %dµs  max %dµs  errors %d%s",
                connections, messagesPerSecond, p50Micros, p90Micros, p99Micros, p999Micros, maxMicros, errors,
                Double.isNaN(serverCpuMicrosPerMessage) ? ""
                        : String.format("  server CPU %.2fµs/msg", serverCpuMicrosPerMessage))
                + (Double.isNaN(serverSyscallsPerMessage) ? ""
                        : String.format("  server syscalls %.2f/msg", serverSyscallsPerMessage));
    }

    /** CSV header matching {@link #csvRow()}. */
    public static String csvHeader() {
        return "connections,messages,seconds,msgs_per_s,p50_us,p90_us,p99_us,p999_us,max_us,errors,server_cpu_us_per_msg,"
                + "server_syscalls_per_msg";
    }

    /** This result as a CSV row. */
    public String csvRow() {
        return String.format(java.util.Locale.ROOT, "%d,%d,%.3f,%.1f,%d,%d,%d,%d,%d,%d,%.3f,%.3f", connections,
                messages, seconds, messagesPerSecond, p50Micros, p90Micros, p99Micros, p999Micros, maxMicros, errors,
                serverCpuMicrosPerMessage, serverSyscallsPerMessage);
    }
}
