package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.testing.LogCapture;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link Quietly#close}: nothing escapes; a socket's IOException is dropped, anything else logged (rate-limited). */
class QuietlyTest {

    @Test
    void anIOExceptionIsDroppedAndAnErrorLoggedAsCloseFailed() {
        try (LogCapture log = LogCapture.of("io.stcp.server")) {
            // Another test's line may have taken this second's: close until one gets through. The
            // IOException's close comes first each time, so its line would be the one seen.
            await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(50)).until(() -> {
                Quietly.close(() -> {
                    throw new IOException("Connection reset by peer");
                }, "socket");
                Quietly.close(() -> {
                    throw new InternalError("injected"); // an Error, as out of memory (which JUnit would rethrow)
                }, "listener");
                return !log.events("close.failed").isEmpty();
            });

            List<ILoggingEvent> lines = log.events("close.failed");
            assertThat(lines).hasSize(1);
            assertThat(lines.get(0).getLevel().toString()).isEqualTo("ERROR");
            assertThat(LogCapture.fields(lines.get(0))).containsEntry("closing", "listener");
            // Present only when some were held back (the lines the loop above made before this one).
            assertThat(LogCapture.fields(lines.get(0)).getOrDefault("suppressed", 1L)).isNotEqualTo(0L);
            assertThat(lines.get(0).getThrowableProxy().getClassName()).isEqualTo(InternalError.class.getName());
        }
    }
}
