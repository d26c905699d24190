package io.stcp.epoll;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * Without either flag the transport's reason named only the first (native access): a user who
 * added it met the missing export at the next start. And on the module path it said
 * {@code =ALL-UNNAMED}, which does not reach the module.
 */
class JvmFlagsTest {
    @Test
    void bothMissingFlagsAreNamedAtOnce() {
        assertThat(JvmFlags.missing("unnamed module @1a2b", "ALL-UNNAMED", false, false)).isEqualTo(
                "native access is not enabled for unnamed module @1a2b, and java.base does not export sun.nio.ch to"
                        + " unnamed module @1a2b (run with --enable-native-access=ALL-UNNAMED"
                        + " --add-exports java.base/sun.nio.ch=ALL-UNNAMED)");
        assertThat(JvmFlags.missing("unnamed module @1a2b", "ALL-UNNAMED", true, false))
                .isEqualTo("java.base does not export sun.nio.ch to unnamed module @1a2b"
                        + " (run with --add-exports java.base/sun.nio.ch=ALL-UNNAMED)");
        assertThat(JvmFlags.missing("unnamed module @1a2b", "ALL-UNNAMED", true, true)).isNull();
    }

    @Test
    void onTheModulePathTheFlagsNameTheModule() {
        assertThat(JvmFlags.missing("module io.stcp.epoll", "io.stcp.epoll", false, true))
                .isEqualTo("native access is not enabled for module io.stcp.epoll"
                        + " (run with --enable-native-access=io.stcp.epoll)");
    }

    @Test
    void thisJvmHasBoth() { // the tests run with both flags, as the module's own pom gives them
        assertThat(JvmFlags.missing(EpollReadinessSource.class.getModule())).isNull();
    }
}
