package io.stcp.internal;

import java.io.IOException;
import java.nio.ByteBuffer;

/** A test transport over any other, passing every call to it; subclasses change the calls they test. */
abstract class OverTransport implements Transport {
    protected final Transport under;

    protected OverTransport(Transport under) {
        this.under = under;
    }

    @Override
    public int read(byte[] b, int off, int len, long deadlineNanos) throws IOException {
        return under.read(b, off, len, deadlineNanos);
    }

    @Override
    public boolean isReadable() {
        return under.isReadable();
    }

    @Override
    public boolean tellsReadiness() {
        return under.tellsReadiness();
    }

    @Override
    public void awaitReadable(long deadlineNanos) throws IOException {
        under.awaitReadable(deadlineNanos);
    }

    @Override
    public boolean inputWaiting() {
        return under.inputWaiting();
    }

    @Override
    public boolean onReadable(Runnable action) {
        return under.onReadable(action);
    }

    @Override
    public void giveWay(long deadlineNanos) throws IOException {
        under.giveWay(deadlineNanos);
    }

    @Override
    public boolean holdsInput() {
        return under.holdsInput();
    }

    @Override
    public boolean holdsPartialInput() {
        return under.holdsPartialInput();
    }

    @Override
    public boolean tookInputWhileClosing() {
        return under.tookInputWhileClosing();
    }

    @Override
    public void awaitInput(int bytes, long deadlineNanos) throws IOException {
        under.awaitInput(bytes, deadlineNanos);
    }

    @Override
    public void stopAwaitingInput() {
        under.stopAwaitingInput();
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
    public int readNow(byte[] b, int off, int len) throws IOException {
        return under.readNow(b, off, len);
    }

    @Override
    public boolean readsDirect() {
        return under.readsDirect();
    }

    @Override
    public long read(ByteBuffer[] dsts, int off, int len, long deadlineNanos) throws IOException {
        return under.read(dsts, off, len, deadlineNanos);
    }

    @Override
    public long readNow(ByteBuffer[] dsts, int off, int len) throws IOException {
        return under.readNow(dsts, off, len);
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
        return under.available();
    }

    @Override
    public int availableToRead() {
        return under.availableToRead();
    }

    @Override
    public boolean isOpen() {
        return under.isOpen();
    }

    @Override
    public String name() {
        return under.name();
    }

    @Override
    public void close() {
        under.close();
    }
}
