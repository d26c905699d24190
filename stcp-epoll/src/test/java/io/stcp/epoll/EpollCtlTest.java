package io.stcp.epoll;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code epoll_ctl} through {@link Epoll#ctl}: it takes effect, fails clearly, and allocates nothing per call. */
class EpollCtlTest {

    @Test
    void aRegistrationTakesEffectAndItsChangesAllocateNothing() throws Exception {
        int epfd = Epoll.create();
        int efd = Epoll.eventFd();
        try (Arena arena = Arena.ofConfined()) {
            Epoll.ctl(epfd, Epoll.CTL_ADD, efd, Epoll.EPOLLIN, 42L);
            MemorySegment events = arena.allocate(Epoll.EVENT_SIZE * 4, 8);
            assertThat(Epoll.poll(epfd, events, 4)).as("nothing ready yet").isZero();
            assertThat(Epoll.signal(efd)).isTrue();
            assertThat(Epoll.poll(epfd, events, 4)).isEqualTo(1);
            assertThat(Epoll.data(events, 0)).isEqualTo(42L);

            Object threads = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
            Method allocatedBytes = Class.forName("com.sun.management.ThreadMXBean").getMethod("getCurrentThreadAllocatedBytes");
            // Rounds until the calls are compiled (the interpreter allocates for calls through method
            // handles): the cheapest round counts. Each call in an arena of its own allocated 296 bytes
            // interpreted, still 96 compiled (its session and segments), and two native blocks.
            int calls = 10_000;
            double leastPerCall = Double.MAX_VALUE;
            int last = 0;
            for (int round = 0; round < 40 && leastPerCall >= 1; round++) {
                long before = (long) allocatedBytes.invoke(threads);
                for (int i = 0; i < calls; i++) {
                    Epoll.ctl(epfd, Epoll.CTL_MOD, efd, Epoll.EPOLLIN, ++last);
                }
                leastPerCall = Math.min(leastPerCall, ((long) allocatedBytes.invoke(threads) - before) / (double) calls);
            }
            assertThat(leastPerCall).as("bytes allocated per call, compiled").isLessThan(16);

            assertThat(Epoll.poll(epfd, events, 4)).as("the last change took effect").isEqualTo(1);
            assertThat(Epoll.data(events, 0)).isEqualTo(last);
            assertThat(Epoll.SLOTS.takenCount()).isZero();
        } finally {
            Epoll.close(efd);
            Epoll.close(epfd);
        }
    }

    @Test
    void aFailedCallSaysWhyAndGivesItsSlotBackAndCallsWorkWithEverySlotTaken() throws Exception {
        assertThatThrownBy(() -> Epoll.ctl(-1, Epoll.CTL_ADD, -1, Epoll.EPOLLIN, 0))
                .isInstanceOf(IOException.class).hasMessage("epoll_ctl failed: EBADF");
        assertThat(Epoll.SLOTS.takenCount()).isZero();

        int epfd = Epoll.create();
        int efd = Epoll.eventFd();
        List<Integer> all = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            for (int s; (s = Epoll.SLOTS.take()) >= 0; ) {
                all.add(s);
            }
            Epoll.ctl(epfd, Epoll.CTL_ADD, efd, Epoll.EPOLLIN, 7L); // in memory of its own
            assertThatThrownBy(() -> Epoll.ctl(epfd, Epoll.CTL_ADD, efd, Epoll.EPOLLIN, 7L))
                    .isInstanceOf(IOException.class).hasMessage("epoll_ctl failed: EEXIST");
            assertThat(Epoll.signal(efd)).isTrue();
            MemorySegment events = arena.allocate(Epoll.EVENT_SIZE, 8);
            assertThat(Epoll.poll(epfd, events, 1)).isEqualTo(1);
            assertThat(Epoll.data(events, 0)).isEqualTo(7L);
        } finally {
            all.forEach(Epoll.SLOTS::give);
            Epoll.close(efd);
            Epoll.close(epfd);
        }
        assertThat(Epoll.SLOTS.takenCount()).isZero();
    }
}
