package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every key a library module's log line writes ({@code addKeyValue("key", ...)} in its sources) is
 * in README's lists of log keys: the section "Logging", and the "Logging" items of the client's
 * and the cluster's sections and of "Behaviour you can rely on". {@code metaError}, the key of what a {@code MetaInfo} threw, was missing.
 */
class DocumentedLogKeysTest {
    private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
    private static final List<String> LIBRARIES = List.of("stcp-core", "stcp-epoll", "stcp-cluster", "stcp-jackson",
            "stcp-micrometer");
    private static final Pattern KEY = Pattern.compile("addKeyValue\\(\\s*\"([^\"]+)\"");
    /** The section, up to the next of its level or above; an item of a list, up to the next item or paragraph. */
    private static final Pattern LISTS = Pattern.compile("(?ms)^### Logging\\n.*?(?=^##? )|^- \\*\\*Logging\\*\\*.*?(?=^- |\\n\\n)");

    @Test
    void everyKeyWrittenIsInTheReadme() throws IOException {
        String documented = documented();
        TreeMap<String, Set<Path>> undocumented = new TreeMap<>();
        int keys = 0;
        for (String module : LIBRARIES) {
            Path sources = ROOT.resolve(module).resolve("src/main/java");
            if (!Files.isDirectory(sources)) {
                continue;
            }
            try (Stream<Path> files = Files.walk(sources)) {
                for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                    Matcher m = KEY.matcher(Files.readString(f));
                    while (m.find()) {
                        keys++;
                        if (!documented.contains("`" + m.group(1) + "`") && !documented.contains("`" + m.group(1) + "=")) {
                            undocumented.computeIfAbsent(m.group(1), k -> new TreeSet<>()).add(ROOT.relativize(f));
                        }
                    }
                }
            }
        }
        assertThat(keys).as("keys written (stcp-core's sources are found)").isGreaterThan(50);
        assertThat(undocumented).as("keys written but not in README's logging lists, and where").isEmpty();
    }

    /** README's logging lists, as one text. */
    private static String documented() throws IOException {
        Matcher m = LISTS.matcher(Files.readString(ROOT.resolve("README.md")));
        StringBuilder text = new StringBuilder();
        int lists = 0;
        while (m.find()) {
            text.append(m.group()).append('\n');
            lists++;
        }
        assertThat(lists).as("the section, the client's and the cluster's items, the server's summary").isEqualTo(4);
        return text.toString();
    }
}
