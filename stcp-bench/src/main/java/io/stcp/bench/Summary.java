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
               double cpuMicrosPerMessage) {}

    /** Medians of one server under one load. */
    record Row(String load, String server, double medianMsgsPerSecond, long medianP99Micros, double ratio,
               double medianCpuMicrosPerMessage, int runs) {}

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
        for (String load : loads) {
            baselineMedian.put(load, median(runs.stream().filter(r -> r.load().equals(load) && r.server().equals(baseline))
                    .map(Run::msgsPerSecond).toList()));
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
                double cpu = median(mine.stream().map(Run::cpuMicrosPerMessage).filter(c -> !Double.isNaN(c)).toList());
                rows.add(new Row(load, server, m, p99, m / baselineMedian.get(load), cpu, mine.size()));
            }
        }
        return rows;
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
                .append(" | median p99 µs | server CPU µs/msg | runs |\n|---|---|---|---|---|---|---|\n");
        for (Row r : rows) {
            sb.append(String.format(java.util.Locale.ROOT, "| %s | %s | %,.0f | %.2f | %,d | %.2f | %d |%n", r.load(),
                    r.server(), r.medianMsgsPerSecond(), r.ratio(), r.medianP99Micros(), r.medianCpuMicrosPerMessage(),
                    r.runs()));
        }
        return sb.toString();
    }
}
