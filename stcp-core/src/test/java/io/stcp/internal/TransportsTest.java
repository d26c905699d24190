package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.LogCapture;
import java.nio.channels.SocketChannel;
import java.util.List;
import org.junit.jupiter.api.Test;

class TransportsTest {

    @Test
    void jdkNeverLooksForANativeTransport() {
        Transports.Choice c = Transports.choose("jdk");
        assertThat(c.source()).isNull();
        assertThat(c.error()).isNull();
    }

    @Test
    void anUnknownTransportIsAClearErrorNotASilentFallback() {
        Transports.Choice c = Transports.choose("io_uring");
        assertThat(c.source()).isNull();
        assertThat(c.error()).startsWith("io.stcp.transport=io_uring but that transport is not available");
    }

    @Test
    void aNativeTransportThatCannotBeUsedIsLoggedWithWhatWentWrongUnderError() {
        ReadinessSource unusable = new ReadinessSource() {
            @Override
            public String name() {
                return "fake";
            }

            @Override
            public String unavailableReason() {
                return "test: needs --enable-native-access";
            }

            @Override
            public Readiness register(SocketChannel channel) {
                throw new UnsupportedOperationException();
            }
        };
        try (LogCapture log = LogCapture.of("io.stcp.server")) {
            Transports.Choice c = Transports.choose("auto", List.of(unusable));
            assertThat(c.source()).isNull();
            assertThat(c.error()).isNull();
            // free text, so error (as conn.transport.fallback's): reason is kept for categories
            assertThat(log.events("server.transport.unavailable")).singleElement()
                    .satisfies(e -> assertThat(LogCapture.fields(e)).containsEntry("error", "fake: test: needs --enable-native-access")
                            .containsEntry("using", "jdk").doesNotContainKey("reason"));
        }
    }
}
