package io.stcp.testing;

import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.extension.Extension;

/**
 * Awaitility's defaults for every test, set once when JUnit loads its auto-detected extensions
 * (see junit-platform.properties): the condition is looked at at once and then every 10 ms,
 * instead of first after 100 ms and then every 100 ms. Awaitility's default made every
 * {@code await().until(..)} last at least a tenth of a second, even when its condition already
 * held; a test that awaits in a loop (GrowingReadTest's pieces, the cluster tests' rounds) paid
 * it each time, about a minute over the whole build. What an await proves is unchanged: the same
 * condition, and the same {@code atMost}; it only returns sooner once the condition holds. A test
 * that wants another pace still sets its own ({@code pollInterval}, {@code pollDelay}).
 */
public final class AwaitPolling implements Extension {
    static {
        Awaitility.setDefaultPollDelay(Duration.ZERO);
        Awaitility.setDefaultPollInterval(Duration.ofMillis(10));
    }
}
