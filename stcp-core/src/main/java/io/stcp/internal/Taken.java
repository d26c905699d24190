package io.stcp.internal;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Where the caller's bytes stood after each TLS record {@link TlsOutput#write} wrapped, so that a
 * write below that fails can put the caller's buffers back to the end of the last record the
 * transport took whole: the bytes wrapped into records that did not go out (or went in part, which
 * the peer cannot decrypt) were not written, and the caller counts what its buffers show consumed.
 *
 * <p>States, per write: {@link #begin} notes each buffer's position; each record wrapped is a
 * mark ({@link #wrapped}: its end in the records' buffer, and the first buffer with bytes left
 * and its position); a flush that succeeds makes the last mark the one to go back to
 * ({@link #flushed}); one that fails goes back to the last mark whose record it took whole, or to
 * that one ({@link #failed}). A buffer after the mark's had not been touched then: it goes back to
 * its position at {@link #begin}.
 *
 * <p><b>Threads.</b> Under {@code TlsOutput}'s wrap lock. The arrays grow as a write needs and
 * are kept: nothing is allocated per write once they have.
 */
final class Taken {
    private int off;                  // the caller's first buffer
    private int end;                  // and the end of its buffers
    private int[] begun = new int[8]; // the buffers' positions at begin, from off
    private int doneIndex;            // the mark to go back to: the first buffer with bytes left
    private int donePosition;         // and its position
    private int marks;                // records wrapped since the last flush
    private int[] ends = new int[4];  // per record: its end in the records' buffer
    private int[] indexes = new int[4];
    private int[] positions = new int[4];

    /** A write of {@code srcs[off, end)} begins. */
    void begin(ByteBuffer[] srcs, int off, int end) {
        this.off = off;
        this.end = end;
        if (begun.length < end - off) {
            begun = new int[end - off];
        }
        for (int i = off; i < end; i++) {
            begun[i - off] = srcs[i].position();
        }
        doneIndex = Transport.firstRemaining(srcs, off, end);
        donePosition = doneIndex < end ? srcs[doneIndex].position() : 0;
        marks = 0;
    }

    /** A record was wrapped, ending at {@code end} in the records' buffer. */
    void wrapped(int end, ByteBuffer[] srcs, int from, int srcsEnd) {
        if (marks == ends.length) {
            ends = Arrays.copyOf(ends, 2 * marks);
            indexes = Arrays.copyOf(indexes, 2 * marks);
            positions = Arrays.copyOf(positions, 2 * marks);
        }
        int i = Transport.firstRemaining(srcs, from, srcsEnd);
        ends[marks] = end;
        indexes[marks] = i;
        positions[marks] = i < srcsEnd ? srcs[i].position() : 0;
        marks++;
    }

    /** The records wrapped so far went out whole. */
    void flushed() {
        if (marks > 0) {
            doneIndex = indexes[marks - 1];
            donePosition = positions[marks - 1];
            marks = 0;
        }
    }

    /** The flush failed after the transport below took {@code took} bytes of the records: the buffers go back. */
    void failed(ByteBuffer[] srcs, int took) {
        int index = doneIndex;
        int position = donePosition;
        for (int m = 0; m < marks && ends[m] <= took; m++) {
            index = indexes[m];
            position = positions[m];
        }
        marks = 0;
        if (index >= end) {
            return; // every record went out whole
        }
        srcs[index].position(position);
        for (int i = index + 1; i < end; i++) {
            srcs[i].position(begun[i - off]);
        }
    }
}
