package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.FrameTimeoutException;
import org.junit.jupiter.api.Test;

/** The frame deadline, on a clock the test gives: when it starts, runs on, and goes. */
class ReadDeadlinesTest {
    private static final long FRAME = 1_000;
    private static final long T0 = 1_000_000;

    @Test
    void whatLookedLikePartOfAFrameAndWasNoneLeavesNoDeadlineBehind() throws Exception {
        ReadDeadlines d = new ReadDeadlines(0, FRAME);
        d.beginCall(0);
        assertThat(d.next(T0, 0, true)).as("part of a TLS record held: inside a frame").isEqualTo(T0 + FRAME);
        assertThat(d.next(T0 + 10, 0, false)).as("the record had no data: no frame").isZero();
        // Much later, part of a real frame: its own deadline, not the passed one of the record before.
        assertThat(d.next(T0 + 5 * FRAME, 0, true)).isEqualTo(T0 + 6 * FRAME);
    }

    @Test
    void aCallThatConsumedNothingLeavesItsFrameDeadlineToTheNext() throws Exception {
        ReadDeadlines d = new ReadDeadlines(0, FRAME);
        d.beginCall(0);
        assertThat(d.next(T0, 0, true)).isEqualTo(T0 + FRAME);
        d.endCall(0); // returned without consuming a byte (it caught a read timeout, say)
        d.beginCall(0);
        assertThat(d.next(T0 + FRAME / 2, 0, true)).as("the same frame, the same deadline").isEqualTo(T0 + FRAME);
        assertThatThrownBy(() -> d.next(T0 + FRAME, 0, true)).isInstanceOf(FrameTimeoutException.class);
    }

    @Test
    void aCallThatConsumedBytesEndsItsFrame() throws Exception {
        ReadDeadlines d = new ReadDeadlines(0, FRAME);
        d.beginCall(0);
        assertThat(d.next(T0, 4, false)).isEqualTo(T0 + FRAME);
        d.endCall(10);
        d.beginCall(10);
        assertThat(d.next(T0 + 5 * FRAME, 10, true)).as("the next frame's own").isEqualTo(T0 + 6 * FRAME);
    }
}
