package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * {@link RoomWatch#next}: a deadline that has come, or an interrupt, ends the wait even while
 * entries are ready. A fan-out under a stream of room events (a recipient told again and again,
 * its message still not fitting) may find an entry ready at every look, and each of its other
 * recipients' limits must still end their waits on time.
 */
class RoomWatchTest {
    @Test
    void aDeadlineThatHasComeEndsTheWaitThoughAnEntryIsReadyWhichComesNext() {
        RoomWatch watch = new RoomWatch(); // this thread's
        RoomWatch.Entry told = watch.entry(null);
        told.ready(); // as a queue that made room hands it over
        assertThat(watch.next(System.nanoTime() - 1)).as("the deadline first").isNull();
        assertThat(watch.next(Long.MIN_VALUE)).isSameAs(told);
    }

    @Test
    void anInterruptEndsTheWaitThoughAnEntryIsReady() {
        RoomWatch watch = new RoomWatch();
        RoomWatch.Entry told = watch.entry(null);
        told.ready();
        Thread.currentThread().interrupt();
        try {
            assertThat(watch.next(Long.MIN_VALUE)).isNull();
        } finally {
            assertThat(Thread.interrupted()).as("still interrupted").isTrue();
        }
        assertThat(watch.next(Long.MIN_VALUE)).isSameAs(told);
    }
}
