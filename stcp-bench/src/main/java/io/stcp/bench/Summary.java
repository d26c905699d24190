package io.stcp.bench;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Medians per server and load, and their ratio to a baseline server. */
final class Summary {

    /** One measured run. */
    record Run(String server, String load, int round, double msgsPerSecond, long p99Micros, long errors,
               double cpuMicrosPerMessage, double syscallsPerMessage) {}

    /**
     * Medians of one server under one load. {@code ratio} compares throughput with the baseline's;
     * {@code cpuRatio} compares CPU per message the other way round (baseline ÷ this server), so
     * above 1 means this server needs less CPU per message — its capacity ratio when the load
     * generator, not the server, is the bottleneck.
     */
    record Row(String load, String server, double medianMsgsPerSecond, long medianP99Micros, double ratio,
               double medianCpuMicrosPerMessage, double cpuRatio, double medianSyscallsPerMessage, int runs) {}

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

    /** Rows in load order, then server order; ratio = median msgs/s over the baseline's median (NaN without one). */
    static List<Row> rows(List<Run> runs, List<String> loads, List<String> servers, String baseline) {
        Map<String, Double> baselineMedian = new LinkedHashMap<>();
        Map<String, Double> baselineCpu = new LinkedHashMap<>();
        for (String load : loads) {
            List<Run> base = runs.stream().filter(r -> r.load().equals(load) && r.server().equals(baseline)).toList();
            baselineMedian.put(load, median(base.stream().map(Run::msgsPerSecond).toList()));
            baselineCpu.put(load, medianOfMeasured(base, Run::cpuMicrosPerMessage));
        }
        List<Row> rows = new ArrayList<>();
        for (String load : loads) {
            for (String server : servers) {
                List<Run> mine = runs.stream().filter(r -> r.load().equals(load) && r.server().equals(server)).toList();
                if (mine.isEmpty()) {
                    continue;
                }
                double m = median(mine.stream().map(Run::msgsPerSecond).toList());
                long p99 = Math.round(median(mine.stream().map(r -> (double) r.p99Micros()).toList()));
                double cpu = medianOfMeasured(mine, Run::cpuMicrosPerMessage);
                rows.add(new Row(load, server, m, p99, m / baselineMedian.get(load), cpu, baselineCpu.get(load) / cpu,
                        medianOfMeasured(mine, Run::syscallsPerMessage), mine.size()));
            }
        }
        return rows;
    }

    private static double medianOfMeasured(List<Run> runs, java.util.function.ToDoubleFunction<Run> value) {
        return median(runs.stream().map(value::applyAsDouble).filter(v -> !Double.isNaN(v)).toList());
    }

    /** "100x16" → {100, 16}. */
    static int[] parseLoad(String load) {
        String[] parts = load.trim().toLowerCase().split("x");
        if (parts.length != 2) {
            throw new IllegalArgumentException("load: \"" + load + "\" (expected: CONNECTIONSxIN_FLIGHT, e.g. 100x16)");
        }
        try {
            int[] v = {Integer.parseInt(parts[0]), Integer.parseInt(parts[1])};
            if (v[0] < 1 || v[1] < 1) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("load: \"" + load + "\" (expected: positive numbers, e.g. 100x16)");
        }
    }

    static String markdown(List<Row> rows, String baseline) {
        StringBuilder sb = new StringBuilder();
        sb.append("| load (conns x in flight) | server | median msgs/s | ratio to ").append(baseline)
                .append(" | median p99 µs | server CPU µs/msg | CPU ratio (").append(baseline)
                .append(" ÷ server) | server syscalls/msg | runs |\n|---|---|---|---|---|---|---|---|---|\n");
        for (Row r : rows) {
            sb.append(String.format(java.util.Locale.ROOT, "| %s | %s | %,.0f | %.2f | %,d | %.2f | %.2f | %.2f | %d |%n",
                    r.load(), r.server(), r.medianMsgsPerSecond(), r.ratio(), r.medianP99Micros(),
                    r.medianCpuMicrosPerMessage(), r.cpuRatio(), r.medianSyscallsPerMessage(), r.runs()));
        }
        return sb.toString();
    }
}
