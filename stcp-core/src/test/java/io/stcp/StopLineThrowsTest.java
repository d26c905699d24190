package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import io.stcp.testing.Echo;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.slf4j.Marker;

/**
 * A server whose {@code server.stop} line throws (a logging backend that fails, a heap too full to
 * build the line) still terminates: the line is logged before the termination completes, and a
 * throw from it left the termination never completed, so {@code awaitTermination} waited for ever.
 */
class StopLineThrowsTest {

    @Test
    void aThrowingStopLineStillCompletesTheTermination() throws Exception {
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        Thread test = Thread.currentThread();
        TurboFilter failing = new TurboFilter() {
            @Override
            public FilterReply decide(Marker marker, Logger logger, Level level, String format, Object[] params, Throwable t) {
                if (Thread.currentThread() == test && level == Level.INFO && logger.getName().equals("io.stcp.server")) {
                    throw new IllegalStateException("the logging backend failed");
                }
                return FilterReply.NEUTRAL;
            }
        };
        failing.start();
        TcpServer server = TcpServer.create(ServerConfig.builder().address("127.0.0.1:0").build(), Echo.READER,
                SenderFactory.queue(8));
        context.addTurboFilter(failing);
        try {
            assertThatThrownBy(server::close).hasMessage("the logging backend failed");
        } finally {
            context.getTurboFilterList().remove(failing);
        }
        assertThat(server.awaitTermination(Duration.ofSeconds(5))).as("terminated").isTrue();
    }
}
