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
        Set<ModuleDescriptor.Exports> qualified = d.exports().stream().filter(ModuleDescriptor.Exports::isQualified)
                .collect(Collectors.toSet());
        assertThat(qualified).singleElement().satisfies(e -> {
            assertThat(e.source()).isEqualTo("io.stcp.internal");
            assertThat(e.targets()).containsExactlyInAnyOrder("io.stcp.epoll", "io.stcp.test"); // stcp's own modules
        });
        Set<String> requires = d.requires().stream()
                .filter(r -> !r.modifiers().contains(ModuleDescriptor.Requires.Modifier.STATIC))
                .map(ModuleDescriptor.Requires::name).collect(Collectors.toSet());
        // jdk.net: SO_PEERCRED, for the credentials of a Unix socket's peer; jdk.jfr: the Flight Recorder events;
        // jdk.unsupported: sun.misc.Signal, for runUntilSignal; java.naming: LdapName, for TlsInfo.peerCommonName.
        assertThat(requires).containsExactlyInAnyOrder("java.base", "jdk.net", "jdk.jfr", "jdk.unsupported", "java.naming",
                "org.slf4j");
        Set<String> compileOnly = d.requires().stream()
                .filter(r -> r.modifiers().contains(ModuleDescriptor.Requires.Modifier.STATIC))
                .map(ModuleDescriptor.Requires::name).collect(Collectors.toSet());
        assertThat(compileOnly).containsExactly("org.jspecify");
    }
}
