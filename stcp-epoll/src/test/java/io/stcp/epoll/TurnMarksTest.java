package io.stcp.epoll;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/** The poll loop's turns and their markers: a waker waits only while the newest turn's marker has not run. */
class TurnMarksTest {

    @Test
    void aTurnIsPendingUntilItsMarkerRuns() {
        TurnMarks marks = new TurnMarks();
        assertThat(marks.pending()).isFalse();
        int turn = marks.begin();
        assertThat(marks.pending()).isTrue();
        marks.ran(turn);
        assertThat(marks.pending()).isFalse();
    }

    @Test
    void anOlderMarkerThatRunsLastDoesNotTakeTheMarkBack() {
        TurnMarks marks = new TurnMarks();
        int older = marks.begin();
        int newer = marks.begin(); // the poll loop came back before the older marker ran
        marks.ran(newer);
        marks.ran(older);
        assertThat(marks.pending()).isFalse(); // else every later wait lasts its whole bound
        marks.ran(marks.begin());
        assertThat(marks.pending()).isFalse();
    }

    @Test
    void onlyTheNewestTurnsMarkerSettles() {
        TurnMarks marks = new TurnMarks();
        int older = marks.begin();
        marks.begin();
        marks.ran(older);
        assertThat(marks.pending()).isTrue();
    }

    @Test
    void turnsWrap() {
        TurnMarks marks = new TurnMarks(Integer.MAX_VALUE - 1);
        int last = marks.begin();
        int wrapped = marks.begin();
        assertThat(wrapped).isEqualTo(Integer.MIN_VALUE);
        marks.ran(wrapped);
        marks.ran(last);
        assertThat(marks.pending()).isFalse();
        int next = marks.begin();
        assertThat(marks.pending()).isTrue();
        marks.ran(next);
        assertThat(marks.pending()).isFalse();
    }

    /** Any order of any markers that ran: pending exactly when the newest turn's has not. */
    @Property(tries = 300)
    void pendingExactlyUntilTheNewestMarkerRan(@ForAll @IntRange(min = 1, max = 12) int turns,
            @ForAll @IntRange(min = -20, max = 20) int startNearWrap, @ForAll boolean newestRan, @ForAll long seed) {
        TurnMarks marks = new TurnMarks(Integer.MAX_VALUE + startNearWrap);
        List<Integer> ran = new ArrayList<>();
        for (int i = 0; i < turns; i++) {
            ran.add(marks.begin());
        }
        int newest = ran.get(ran.size() - 1);
        Random random = new Random(seed);
        ran.removeIf(t -> t != newest && random.nextBoolean());
        if (!newestRan) {
            ran.remove(Integer.valueOf(newest));
        }
        Collections.shuffle(ran, random);
        ran.forEach(marks::ran);
        assertThat(marks.pending()).isEqualTo(!newestRan);
    }
}
