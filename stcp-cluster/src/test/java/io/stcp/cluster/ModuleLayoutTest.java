package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.nio.file.Path;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class ModuleLayoutTest {

    @Test
    void onlyTheApiPackageIsExportedAndJedisIsNotPartOfTheApi() throws Exception {
        Path classes = Path.of(ClusterFanout.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        ModuleDescriptor d = ModuleFinder.of(classes).findAll().iterator().next().descriptor();
        assertThat(d.name()).isEqualTo("io.stcp.cluster");
        assertThat(d.exports()).singleElement().satisfies(e -> {
            assertThat(e.source()).isEqualTo("io.stcp.cluster");
            assertThat(e.isQualified()).isFalse();
        });
        Set<String> transitive = d.requires().stream().filter(r -> r.modifiers().contains(ModuleDescriptor.Requires.Modifier.TRANSITIVE))
                .map(ModuleDescriptor.Requires::name).collect(Collectors.toSet());
        assertThat(transitive).as("users see stcp's API, not Jedis's").containsExactly("io.stcp");
        Set<String> requires = d.requires().stream().map(ModuleDescriptor.Requires::name).collect(Collectors.toSet());
        assertThat(requires).containsExactlyInAnyOrder("java.base", "io.stcp", "redis.clients.jedis", "org.apache.commons.pool2", "org.jspecify");
    }
}
