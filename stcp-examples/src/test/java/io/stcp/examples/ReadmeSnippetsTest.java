package io.stcp.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Keeps the README's code honest: every Java block marked {@code <!-- snippet:NAME -->} must be,
 * line for line, the region between {@code // snippet:start NAME} and {@code // snippet:end} in
 * this module's compiled sources (main or test).
 */
class ReadmeSnippetsTest {
    private static final Path MODULE = Path.of("").toAbsolutePath();
    private static final Path README = MODULE.getParent().resolve("README.md");
    private static final Pattern BLOCK = Pattern.compile("<!-- snippet:([\\w-]+) -->\\s*```java\\n(.*?)```", Pattern.DOTALL);
    private static final Pattern REGION = Pattern.compile("// snippet:start ([\\w-]+)\\n(.*?)\\n\\s*// snippet:end", Pattern.DOTALL);

    /** A user's project has only the published modules: a snippet's file may use nothing else of ours. */
    private static final Pattern OUR_IMPORT = Pattern.compile("^import (static )?io\\.stcp\\.([\\w.]+);", Pattern.MULTILINE);

    private static void assertOnlyPublishedImports(Path file, String text) {
        Matcher m = OUR_IMPORT.matcher(text);
        while (m.find()) {
            assertThat(m.group(2)).as("an import of %s, which has README snippets", file.getFileName())
                    .doesNotStartWith("examples").doesNotStartWith("loadgen").doesNotStartWith("bench")
                    .doesNotStartWith("internal");
        }
        assertThat(text).as("%s, which has README snippets, uses only published modules", file.getFileName())
                .doesNotContain("EchoServer");
    }

    /** A source file README names (to read or copy, as the metrics endpoint) is there. */
    @Test
    void everySourceFileTheReadmeNamesExists() throws IOException {
        Matcher m = Pattern.compile("\\bstcp-[\\w-]+/src/[\\w/.-]+\\.java").matcher(Files.readString(README));
        int named = 0;
        while (m.find()) {
            assertThat(MODULE.getParent().resolve(m.group())).as("README names %s", m.group()).isRegularFile();
            named++;
        }
        assertThat(named).as("files named (the metrics endpoint's, at least)").isPositive();
    }

    @Test
    void everyReadmeSnippetIsCompiledSourceAndEverySourceSnippetIsInTheReadme() throws IOException {
        Map<String, String> readme = new LinkedHashMap<>();
        Matcher m = BLOCK.matcher(Files.readString(README));
        while (m.find()) {
            readme.put(m.group(1), m.group(2).strip());
        }
        Map<String, String> sources = new LinkedHashMap<>();
        for (String dir : List.of("src/main/java", "src/test/java")) { // a snippet may be a test, too
            try (Stream<Path> files = Files.walk(MODULE.resolve(dir))) {
                for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                    String text = Files.readString(f);
                    Matcher r = REGION.matcher(text);
                    boolean hasSnippet = false;
                    while (r.find()) {
                        sources.put(r.group(1), dedent(r.group(2)));
                        hasSnippet = true;
                    }
                    if (hasSnippet) {
                        assertOnlyPublishedImports(f, text);
                    }
                }
            }
        }
        assertThat(readme).as("README snippets").isNotEmpty();
        assertThat(readme.keySet()).containsExactlyInAnyOrderElementsOf(sources.keySet());
        readme.forEach((name, code) -> assertThat(code).as("README snippet '%s'", name).isEqualTo(sources.get(name)));
    }

    private static String dedent(String block) {
        List<String> lines = block.lines().toList();
        int indent = lines.stream().filter(l -> !l.isBlank())
                .mapToInt(l -> l.length() - l.stripLeading().length()).min().orElse(0);
        return String.join("\n", lines.stream().map(l -> l.isBlank() ? "" : l.substring(indent)).toList()).strip();
    }
}
