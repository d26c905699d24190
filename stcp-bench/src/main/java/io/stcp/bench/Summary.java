package io.stcp.bench;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Medians per server and load, their ratio to a baseline server, and the load generator's headroom. */
final class Summary {
    /** How much faster than the fastest server the generator must be for a load to measure the servers. */
    static final double MIN_HEADROOM = 1.5;
    /** Cores other processes may use during a run before it is reported as disturbed. */
    static final double MAX_OTHERS_BUSY = 0.1;
    /** The name of the C echo server's runs: the generator's ceiling. */
    static final String CEILING = "c-echo";

    /**
     * One run. Measured runs have no system-call count (NaN): those are counted in separate runs,
     * because tracing slows the server. {@code loadgenBusy} is the share of its core the generator
     * used in the window, {@code othersBusy} the cores all other processes used (both NaN when the
     * generator does not report them).
     */
    record Run(String server, String load, int round, double msgsPerSecond, long p99Micros, long errors,
               double cpuMicrosPerMessage, double syscallsPerMessage, double loadgenBusy, double othersBusy) {
        /** What a generator reported for one run. */
        static Run of(String server, String load, int round, Generator.Outcome o) {
            io.stcp.loadgen.LoadResult r = o.result();
            return new Run(server, load, round, r.messagesPerSecond(), r.p99Micros(), r.errors(),
                    r.serverCpuMicrosPerMessage(), r.serverSyscallsPerMessage(), o.loadgenBusy(), o.othersBusy());
        }

        /** A run whose generator failed: no messages, one error. */
        static Run failed(String server, String load, int round) {
            return new Run(server, load, round, 0, 0, 1, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
        }

        /**
         * The share of a core the server used: CPU per message × messages per second. Near 1 the
         * server was the bottleneck; well below, something else (the generator) set the pace.
         */
        double serverBusy() {
            return cpuMicrosPerMessage * msgsPerSecond / 1e6;
        }

        /** Whether other processes used more than {@link #MAX_OTHERS_BUSY} cores during the run. */
        boolean disturbed() {
            return othersBusy > MAX_OTHERS_BUSY;
        }
    }

    /**
     * Medians of one server under one load. {@code ratio} compares throughput with the baseline's;
     * {@code cpuRatio} compares CPU per message the other way round (baseline ÷ this server), so
     * above 1 means this server needs less CPU per message — its capacity ratio when the load
     * generator, not the server, is the bottleneck. System calls come from the separate runs.
     */
    record Row(String load, String server, double medianMsgsPerSecond, long medianP99Micros, double ratio,
               double medianCpuMicrosPerMessage, double cpuRatio, double medianSyscallsPerMessage,
               double medianLoadgenBusy, int runs) {}

    /**
     * The generator's ceiling at a load (the median of its throughputs against the C echo server)
     * against the fastest server's median throughput there; {@code ceilingLoadgenBusy} is the
     * median share of its core the generator used in those runs (below 1: the echo server, not
     * the generator, set the pace, and the real ceiling is higher); {@code fastestServerBusy} the
     * share of its core the fastest server used (near 1: it, not the generator, was the limit).
     */
    record Headroom(String load, double ceilingMsgsPerSecond, double ceilingLoadgenBusy, String fastest,
                    double fastestMsgsPerSecond, double fastestServerBusy) {
        double ratio() {
            return ceilingMsgsPerSecond / fastestMsgsPerSecond;
        }

        /** False when the ratio is below {@link #MIN_HEADROOM} or unknown. */
        boolean enough() {
            return ratio() >= MIN_HEADROOM;
        }
    }

    private Summary() {}

    static double median(List<Double> values) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        List<Double> sorted = new ArrayList<>(values);
        sorted.sort(Comparator.naturalOrder());
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    /**
     * Rows in load order, then server order; ratio = median msgs/s over the baseline's median (NaN
     * without one); system calls per message = the median of {@code syscallRuns} (NaN without any).
     */
    static List<Row> rows(List<Run> runs, List<Run> syscallRuns, List<String> loads, List<String> servers,
                          String baseline) {
        Map<String, Double> baselineMedian = new LinkedHashMap<>();
        Map<String, Double> baselineCpu = new LinkedHashMap<>();
        for (String load : loads) {
            List<Run> base = of(runs, load, baseline);
            baselineMedian.put(load, median(base.stream().map(Run::msgsPerSecond).toList()));
            baselineCpu.put(load, medianOfMeasured(base, Run::cpuMicrosPerMessage));
        }
        List<Row> rows = new ArrayList<>();
        for (String load : loads) {
            for (String server : servers) {
                List<Run> mine = of(runs, load, server);
                if (mine.isEmpty()) {
                    continue;
                }
                double m = median(mine.stream().map(Run::msgsPerSecond).toList());
                long p99 = Math.round(median(mine.stream().map(r -> (double) r.p99Micros()).toList()));
                double cpu = medianOfMeasured(mine, Run::cpuMicrosPerMessage);
                rows.add(new Row(load, server, m, p99, m / baselineMedian.get(load), cpu, baselineCpu.get(load) / cpu,
                        medianOfMeasured(of(syscallRuns, load, server), Run::syscallsPerMessage),
                        medianOfMeasured(mine, Run::loadgenBusy), mine.size()));
            }
        }
        return rows;
    }

    /** Per load with ceiling runs: their median against the fastest server's median. */
    static List<Headroom> headroom(List<Row> rows, List<Run> ceilingRuns, List<String> loads) {
        List<Headroom> result = new ArrayList<>();
        for (String load : loads) {
            List<Run> ceilings = of(ceilingRuns, load, CEILING);
            if (ceilings.isEmpty()) {
                continue;
            }
            double ceiling = median(ceilings.stream().map(Run::msgsPerSecond).toList());
            double busy = medianOfMeasured(ceilings, Run::loadgenBusy);
            rows.stream().filter(r -> r.load().equals(load)).max(Comparator.comparingDouble(Row::medianMsgsPerSecond))
                    .ifPresent(f -> result.add(new Headroom(load, ceiling, busy, f.server(), f.medianMsgsPerSecond(),
                            f.medianCpuMicrosPerMessage() * f.medianMsgsPerSecond() / 1e6)));
        }
        return result;
    }

    private static List<Run> of(List<Run> runs, String load, String server) {
        return runs.stream().filter(r -> r.load().equals(load) && r.server().equals(server)).toList();
    }

    private static double medianOfMeasured(List<Run> runs, java.util.function.ToDoubleFunction<Run> value) {
        return median(runs.stream().map(value::applyAsDouble).filter(v -> !Double.isNaN(v)).toList());
    }

    static String markdown(List<Row> rows, String baseline) {
        StringBuilder sb = new StringBuilder();
        sb.append("| load (conns x in flight [@ frame bytes]) | server | median msgs/s | ratio to ").append(baseline)
                .append(" | median p99 µs | server CPU µs/msg | CPU ratio (").append(baseline)
                .append(" ÷ server) | server syscalls/msg (separate run) | runs |\n|---|---|---|---|---|---|---|---|---|\n");
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "| %s | %s | %,.0f | %.2f | %,d | %.2f | %.2f | %.2f | %d |%n",
                    r.load(), r.server(), r.medianMsgsPerSecond(), r.ratio(), r.medianP99Micros(),
                    r.medianCpuMicrosPerMessage(), r.cpuRatio(), r.medianSyscallsPerMessage(), r.runs()));
        }
        return sb.toString();
    }

    static String headroomMarkdown(List<Headroom> headroom) {
        StringBuilder sb = new StringBuilder("| load | generator ceiling msgs/s | generator core busy | fastest server"
                + " | its median msgs/s | its core busy | ceiling ÷ fastest |\n|---|---|---|---|---|---|---|\n");
        for (Headroom h : headroom) {
            sb.append(String.format(Locale.ROOT, "| %s | %,.0f | %.0f %% | %s | %,.0f | %.0f %% | %s%.2f%s |%n", h.load(),
                    h.ceilingMsgsPerSecond(), 100 * h.ceilingLoadgenBusy(), h.fastest(), h.fastestMsgsPerSecond(),
                    100 * h.fastestServerBusy(), h.enough() ? "" : "**", h.ratio(),
                    h.enough() ? "" : "** (below " + MIN_HEADROOM + ")"));
        }
        return sb.toString();
    }
}
