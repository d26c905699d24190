package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.Connection;
import java.lang.reflect.Method;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Every put that is not its recipient reader's asks whether its thread acts for that reader: a
 * fan-out from a reader (a thread new per resumption) asks once per recipient, so asking must
 * cost a thread that acts for nobody nothing (a thread-local's first look made its map).
 */
class ActingReaderTest {
    private static final Connection CONNECTION = connection();

    /** A connection only compared by identity here: no call on it is ever made. */
    private static Connection connection() {
        return (Connection) java.lang.reflect.Proxy.newProxyInstance(Connection.class.getClassLoader(),
                new Class<?>[] {Connection.class}, (proxy, method, args) -> {
                    throw new UnsupportedOperationException(method.getName());
                });
    }

    @Test
    void askingOnAThreadThatActsForNobodyAllocatesNothing() throws Exception {
        Object threads = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
        Method allocatedBytes = Class.forName("com.sun.management.ThreadMXBean").getMethod("getCurrentThreadAllocatedBytes");
        for (int i = 0; i < 20_000; i++) { // compiled, as on a server
            ActingReader.isActingFor(CONNECTION);
        }
        AtomicLong allocated = new AtomicLong(-1);
        AtomicBoolean acting = new AtomicBoolean(true);
        Thread t = new Thread(() -> { // a thread that never looked at a thread-local of its own
            try {
                long before = (long) allocatedBytes.invoke(threads);
                boolean found = ActingReader.isActingFor(CONNECTION);
                allocated.set((long) allocatedBytes.invoke(threads) - before);
                acting.set(found);
            } catch (ReflectiveOperationException e) {
                throw new AssertionError(e);
            }
        });
        t.start();
        t.join();
        assertThat(acting.get()).isFalse();
        assertThat(allocated.get()).as("bytes allocated by asking").isBetween(0L, 47L);
    }

    @Test
    void aThreadThatActsFindsItselfActingForThatConnectionAloneAndNoLongerOnceDone() throws Exception {
        Connection other = connection();
        AtomicBoolean duringForIt = new AtomicBoolean();
        AtomicBoolean duringForOther = new AtomicBoolean(true);
        AtomicBoolean elsewhere = new AtomicBoolean(true);
        ActingReader.run(CONNECTION, () -> {
            duringForIt.set(ActingReader.isActingFor(CONNECTION));
            duringForOther.set(ActingReader.isActingFor(other));
            Thread t = Thread.ofVirtual().start(() -> elsewhere.set(ActingReader.isActingFor(CONNECTION)));
            try {
                t.join();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        });
        assertThat(duringForIt.get()).isTrue();
        assertThat(duringForOther.get()).isFalse();
        assertThat(elsewhere.get()).as("another thread, meanwhile").isFalse();
        assertThat(ActingReader.isActingFor(CONNECTION)).as("once done").isFalse();
    }
}
