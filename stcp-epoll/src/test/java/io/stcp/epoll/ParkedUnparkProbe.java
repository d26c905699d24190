package io.stcp.epoll;

import java.util.concurrent.locks.LockSupport;

/**
 * Run by {@link WakerTest} in a JVM of its own with one carrier: a virtual thread parks
 * {@value #ROUNDS} times, each time right after it unparked a marker thread (queued on the one
 * carrier) and asked a platform thread to unpark it with {@link EpollPoller#unparkOnceParked}, and
 * a little later — the moment a waker on one CPU preempts the poll loop in. The marker runs before
 * the parked thread goes on only if the park gave the carrier up; a park that returned at once, on
 * a permit, is counted {@code early}. Prints {@code early=N of M} and exits 0 when N is 0, 2 when
 * it is not.
 */
public final class ParkedUnparkProbe {
    static final int ROUNDS = 2_000;
    private static final long WINDOW_NANOS = 20_000;

    private static volatile boolean armed;
    private static volatile boolean markerRan;
    private static volatile boolean done;

    private ParkedUnparkProbe() {}

    public static void main(String[] args) throws Exception {
        Thread marker = Thread.ofVirtual().start(() -> {
            while (!done) {
                markerRan = true;
                LockSupport.park();
            }
        });
        while (marker.getState() != Thread.State.WAITING) {
            Thread.onSpinWait();
        }
        int[] early = new int[1];
        Thread parker = Thread.ofVirtual().unstarted(() -> {
            for (int i = 0; i < ROUNDS; i++) {
                markerRan = false;
                LockSupport.unpark(marker);
                armed = true;
                long until = System.nanoTime() + WINDOW_NANOS;
                while (System.nanoTime() < until) {
                    Thread.onSpinWait();
                }
                LockSupport.park();
                if (!markerRan) {
                    early[0]++;
                }
            }
        });
        Thread waker = Thread.ofPlatform().daemon().start(() -> {
            while (!done) {
                if (armed) {
                    armed = false;
                    EpollPoller.unparkOnceParked(parker);
                } else {
                    Thread.onSpinWait();
                }
            }
        });
        parker.start();
        parker.join();
        done = true;
        LockSupport.unpark(marker);
        marker.join();
        waker.join();
        System.out.println("early=" + early[0] + " of " + ROUNDS);
        System.exit(early[0] == 0 ? 0 : 2);
    }
}
