package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.nio.file.Path;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class ModuleLayoutTest {

    @Test
    void onlyTheApiPackagesAreExportedToAllAndCoreNeedsOnlySlf4jAndTheJdk() throws Exception {
        // The classes folder, or the jar when another module runs these tests.
        Path classes = Path.of(TcpServer.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        ModuleDescriptor d = ModuleFinder.of(classes).findAll().iterator().next().descriptor();
        assertThat(d.name()).isEqualTo("io.stcp");
        Set<String> exported = d.exports().stream().filter(e -> !e.isQualified())
                .map(ModuleDescriptor.Exports::source).collect(Collectors.toSet());
        assertThat(exported).containsExactlyInAnyOrder("io.stcp", "io.stcp.framing");
        Set<String> qualified = d.exports().stream().filter(ModuleDescriptor.Exports::isQualified)
                .map(e -> e.source() + " to " + e.targets()).collect(Collectors.toSet());
        assertThat(qualified).containsExactly("io.stcp.internal to [io.stcp.epoll]");
        Set<String> requires = d.requires().stream()
                .filter(r -> !r.modifiers().contains(ModuleDescriptor.Requires.Modifier.STATIC))
                .map(ModuleDescriptor.Requires::name).collect(Collectors.toSet());
        assertThat(requires).containsExactlyInAnyOrder("java.base", "org.slf4j", "jdk.jfr"); // JFR: part of the JDK
        Set<String> compileOnly = d.requires().stream()
                .filter(r -> r.modifiers().contains(ModuleDescriptor.Requires.Modifier.STATIC))
                .map(ModuleDescriptor.Requires::name).collect(Collectors.toSet());
        assertThat(compileOnly).containsExactly("org.jspecify");
    }
}
