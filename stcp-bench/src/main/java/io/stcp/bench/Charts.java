package io.stcp.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

/** Grouped bar charts of the medians: throughput and p99 latency per load and server. */
final class Charts {
    private Charts() {}

    static void write(List<Summary.Row> rows, List<String> loads, List<String> servers, Path dir) throws IOException {
        chart(rows, loads, servers, "Median throughput (msgs/s, higher is better)", "msgs/s",
                Summary.Row::medianMsgsPerSecond, dir.resolve("throughput.png"));
        chart(rows, loads, servers, "Median p99 latency (µs, lower is better)", "µs",
                r -> (double) r.medianP99Micros(), dir.resolve("p99.png"));
        chart(rows, loads, servers, "Median server CPU per message (µs, lower is better)", "µs/msg",
                Summary.Row::medianCpuMicrosPerMessage, dir.resolve("cpu.png"));
    }

    private static void chart(List<Summary.Row> rows, List<String> loads, List<String> servers, String title, String y,
                              java.util.function.ToDoubleFunction<Summary.Row> value, Path file) throws IOException {
        CategoryChart c = new CategoryChartBuilder().width(900).height(500).title(title)
                .xAxisTitle("connections x frames in flight").yAxisTitle(y).build();
        for (String server : servers) {
            List<Double> values = loads.stream().map(load -> rows.stream()
                    .filter(r -> r.load().equals(load) && r.server().equals(server)).findFirst()
                    .map(r -> Double.isNaN(value.applyAsDouble(r)) ? 0.0 : value.applyAsDouble(r)).orElse(0.0)).toList();
            c.addSeries(server, loads, values);
        }
        BitmapEncoder.saveBitmap(c, file.toString(), BitmapEncoder.BitmapFormat.PNG);
    }
}
