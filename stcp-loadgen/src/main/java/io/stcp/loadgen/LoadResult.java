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
 *                          messages; NaN unless {@link LoadOptions#countSyscalls()} asked for them and
 *                          Linux perf could count them
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

    /**
     * This result as one line of {@code key=value} pairs after the word {@code result}, keys as in
     * {@link #csvHeader()}: the line both load generators (this one and stcp-bench's C one) print
     * for a program to read back with {@link #parseResultLine(String)}.
     */
    public String resultLine() {
        String[] keys = csvHeader().split(",");
        String[] values = csvRow().split(",");
        StringBuilder sb = new StringBuilder("result");
        for (int i = 0; i < keys.length; i++) {
            sb.append(' ').append(keys[i]).append('=').append(values[i]);
        }
        return sb.toString();
    }

    /**
     * Reads a line written by {@link #resultLine()}. Keys it does not know are ignored; "nan" in
     * any case is NaN.
     *
     * @throws IllegalArgumentException if the line is not a result line or lacks a key
     */
    public static LoadResult parseResultLine(String line) {
        java.util.Map<String, String> f = resultFields(line);
        for (String key : csvHeader().split(",")) {
            if (!f.containsKey(key)) {
                throw new IllegalArgumentException("result line without " + key + ": \"" + line + "\"");
            }
        }
        try {
            return new LoadResult(Integer.parseInt(f.get("connections")), Long.parseLong(f.get("messages")),
                    decimal(f.get("seconds")), decimal(f.get("msgs_per_s")), Long.parseLong(f.get("p50_us")),
                    Long.parseLong(f.get("p90_us")), Long.parseLong(f.get("p99_us")), Long.parseLong(f.get("p999_us")),
                    Long.parseLong(f.get("max_us")), Long.parseLong(f.get("errors")),
                    decimal(f.get("server_cpu_us_per_msg")), decimal(f.get("server_syscalls_per_msg")));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("result line with a bad number (" + e.getMessage() + "): \"" + line + "\"");
        }
    }

    /** The {@code key=value} pairs of a result line, in order. */
    public static java.util.Map<String, String> resultFields(String line) {
        return lineFields("result", line);
    }

    /** The {@code key=value} pairs of a generator's line that starts with the word {@code kind}, in order. */
    public static java.util.Map<String, String> lineFields(String kind, String line) {
        String[] words = line.trim().split("\\s+");
        if (!words[0].equals(kind)) {
            throw new IllegalArgumentException("not a " + kind + " line: \"" + line + "\"");
        }
        java.util.Map<String, String> fields = new java.util.LinkedHashMap<>();
        for (int i = 1; i < words.length; i++) {
            int eq = words[i].indexOf('=');
            if (eq > 0) {
                fields.put(words[i].substring(0, eq), words[i].substring(eq + 1));
            }
        }
        return fields;
    }

    /** A decimal, or NaN for "nan" in any case and sign (C's printf writes "nan" or "-nan"). */
    public static double decimal(String s) {
        return s.replace("-", "").equalsIgnoreCase("nan") ? Double.NaN : Double.parseDouble(s);
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
