package io.stcp.internal;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A transport that first serves bytes a layer read past its own part (the bytes after a PROXY
 * header that arrived in the same packet), then reads from the transport below. Everything else
 * goes straight to the transport below.
 *
 * <p>Thread safety: as {@link Transport}; the prefix belongs to the reader thread.
 */
final class PrefixTransport implements Transport {
    private final Transport under;
    private final byte[] prefix;
    private int pos;       // reader thread only
    private final int end;

    /** Serves {@code prefix[from .. to)} before reading from {@code under}. */
    PrefixTransport(Transport under, byte[] prefix, int from, int to) {
        this.under = under;
        this.prefix = prefix;
        this.pos = from;
        this.end = to;
    }

    /** {@code under} itself when there is nothing to serve first. */
    static Transport of(Transport under, byte[] prefix, int from, int to) {
        return from == to ? under : new PrefixTransport(under, prefix, from, to);
    }

    @Override
    public int read(byte[] b, int off, int len, long deadlineNanos) throws IOException {
        if (pos < end) {
            int n = Math.min(len, end - pos);
            System.arraycopy(prefix, pos, b, off, n);
            pos += n;
            return n;
        }
        return under.read(b, off, len, deadlineNanos);
    }

    @Override
    public int readNow(byte[] b, int off, int len) throws IOException {
        if (pos < end) {
            return read(b, off, len, 0);
        }
        return under.readNow(b, off, len);
    }

    /** Once the prefix is served, as the transport below. */
    @Override
    public boolean readsDirect() {
        return pos >= end && under.readsDirect();
    }

    /** Only once {@link #readsDirect()}: the prefix is served. */
    @Override
    public long read(ByteBuffer[] dsts, int off, int len, long deadlineNanos) throws IOException {
        return under.read(dsts, off, len, deadlineNanos);
    }

    /** Only once {@link #readsDirect()}: the prefix is served. */
    @Override
    public long readNow(ByteBuffer[] dsts, int off, int len) throws IOException {
        return under.readNow(dsts, off, len);
    }

    @Override
    public boolean tellsReadiness() {
        return under.tellsReadiness();
    }

    @Override
    public boolean isReadable() {
        return pos < end || under.isReadable();
    }

    @Override
    public boolean inputWaiting() {
        return pos < end || under.inputWaiting();
    }

    @Override
    public void awaitReadable(long deadlineNanos) throws IOException {
        if (pos >= end) {
            under.awaitReadable(deadlineNanos);
        }
    }

    @Override
    public void awaitInput(int bytes, long deadlineNanos) throws IOException {
        if (pos >= end) { // while the prefix has bytes, there is input at once
            under.awaitInput(bytes, deadlineNanos);
        }
    }

    @Override
    public void stopAwaitingInput() {
        under.stopAwaitingInput();
    }

    @Override
    public boolean holdsInput() {
        return pos < end || under.holdsInput();
    }

    /** The prefix is whole bytes: only the transport below can hold part of something. */
    @Override
    public boolean holdsPartialInput() {
        return under.holdsPartialInput();
    }

    @Override
    public boolean tookInputWhileClosing() {
        return under.tookInputWhileClosing();
    }

    @Override
    public void giveWay(long deadlineNanos) throws IOException {
        if (pos >= end) {
            under.giveWay(deadlineNanos);
        }
    }

    @Override
    public boolean onReadable(Runnable action) {
        return pos >= end && under.onReadable(action);
    }

    @Override
    public void write(ByteBuffer[] srcs, int off, int len, long deadlineNanos) throws IOException {
        under.write(srcs, off, len, deadlineNanos);
    }

    @Override
    public void writeOwned(ByteBuffer[] srcs, int off, int len, long deadlineNanos) throws IOException {
        under.writeOwned(srcs, off, len, deadlineNanos);
    }

    @Override
    public int writeNow(byte[] b, int off, int len) throws IOException {
        return under.writeNow(b, off, len);
    }

    @Override
    public void shutdownOutput() throws IOException {
        under.shutdownOutput();
    }

    @Override
    public void shutdownOutput(long deadlineNanos) throws IOException {
        under.shutdownOutput(deadlineNanos);
    }

    @Override
    public int available() {
        return Math.max(0, end - pos) + under.available();
    }

    @Override
    public int availableToRead() {
        return Math.max(0, end - pos) + under.availableToRead();
    }

    @Override
    public boolean isOpen() {
        return under.isOpen();
    }

    @Override
    public void releaseBuffers() {
        under.releaseBuffers();
    }

    @Override
    public void parkBuffers() {
        under.parkBuffers();
    }

    @Override
    public void onWriteWait(WriteWaits waits) {
        under.onWriteWait(waits);
    }

    @Override
    public void close() {
        under.close();
    }

    @Override
    public String name() {
        return under.name();
    }
}
