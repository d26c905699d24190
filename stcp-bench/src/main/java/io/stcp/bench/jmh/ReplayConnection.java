package io.stcp.bench.jmh;

import io.stcp.AttributeKey;
import io.stcp.BasicMetaInfo;
import io.stcp.CloseReason;
import io.stcp.Connection;
import io.stcp.MetaInfo;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.time.Instant;

/**
 * A {@link Connection} that reads the same bytes over and over from memory, so framing readers
 * can be measured without a socket. Reads never block; writes are discarded.
 */
final class ReplayConnection implements Connection {
    private static final byte[] NO_PREFIX = {};
    private final ByteBuffer data;
    private long bytesRead;
    private MetaInfo meta = new BasicMetaInfo("replay");

    ReplayConnection(byte[] bytes) {
        this.data = ByteBuffer.wrap(bytes);
    }

    /** Starts over at the first byte. */
    void rewind() {
        data.clear();
    }

    private ByteBuffer take(int n, ByteOrder order) throws EOFException {
        if (data.remaining() < n) {
            throw new EOFException();
        }
        bytesRead += n;
        return data.order(order);
    }

    @Override public long id() { return 0; }
    @Override public SocketAddress remoteAddress() { return null; }
    @Override public SocketAddress localAddress() { return null; }
    @Override public SocketChannel channel() { throw new UnsupportedOperationException(); }
    @Override public MetaInfo metaInfo() { return meta; }
    @Override public void metaInfo(MetaInfo metaInfo) { meta = metaInfo; }

    @Override
    public int read(byte[] b, int off, int len) {
        if (!data.hasRemaining()) {
            return -1;
        }
        int n = Math.min(len, data.remaining());
        data.get(b, off, n);
        bytesRead += n;
        return n;
    }

    /** Scans the bytes as stcp's connections scan their buffer. */
    @Override
    public int readUntil(byte delimiter, byte[] b, int off, int len) {
        if (!data.hasRemaining()) {
            return -1;
        }
        int start = data.position();
        int end = Math.min(data.limit(), start + len);
        int i = start;
        while (i < end && data.get(i) != delimiter) {
            i++;
        }
        int n = (i < end ? i + 1 : end) - start;
        data.get(b, off, n);
        bytesRead += n;
        return n;
    }

    @Override
    public void readFully(byte[] b, int off, int len) throws IOException {
        take(len, ByteOrder.BIG_ENDIAN).get(b, off, len);
    }

    @Override public int readUnsignedByte() throws IOException { return take(1, ByteOrder.BIG_ENDIAN).get() & 0xFF; }
    @Override public short readShort() throws IOException { return take(2, ByteOrder.BIG_ENDIAN).getShort(); }
    @Override public short readShortLE() throws IOException { return take(2, ByteOrder.LITTLE_ENDIAN).getShort(); }
    @Override public int readInt() throws IOException { return take(4, ByteOrder.BIG_ENDIAN).getInt(); }
    @Override public int readIntLE() throws IOException { return take(4, ByteOrder.LITTLE_ENDIAN).getInt(); }
    @Override public long readLong() throws IOException { return take(8, ByteOrder.BIG_ENDIAN).getLong(); }
    @Override public long readLongLE() throws IOException { return take(8, ByteOrder.LITTLE_ENDIAN).getLong(); }
    @Override public int buffered() { return data.remaining(); }
    @Override public long bytesRead() { return bytesRead; }
    @Override public void readTimeout(Duration timeout) {}
    @Override public Duration readTimeout() { return Duration.ZERO; }
    @Override public void readDeadline(Instant deadline) {}
    @Override public void write(ByteBuffer[] buffers, int offset, int length) {}
    @Override public Duration writeTimeout() { return Duration.ZERO; }
    @Override public void writeTimeout(Duration timeout) {}
    @Override public void shutdownOutput() {}
    @Override public boolean isOpen() { return true; }
    @Override public void close(CloseReason reason) {}
    @Override public CloseReason closeReason() { return null; }
    @Override public Throwable closeCause() { return null; }
    @Override public int closeGracefully(Duration timeout, Drain drain) { return 0; }
    @Override public boolean isReaderThread() { return true; }
    @Override public void onWriteIdle(Duration interval, Runnable action) {}
    @Override public String remoteAddressText() { return "replay"; }
    @Override public <T> T attribute(AttributeKey<T> key) { return null; }
    @Override public <T> void attribute(AttributeKey<T> key, T value) {}
    @Override public <T> T attributeIfAbsent(AttributeKey<T> key, java.util.function.Supplier<? extends T> f) { return f.get(); }
    @Override public byte[] readLine(int maxLength) { throw new UnsupportedOperationException(); }

    @Override
    public byte[] readBytes(int n) throws IOException {
        return readBytes(NO_PREFIX, n);
    }

    @Override
    public byte[] readBytes(byte[] prefix, int n) throws IOException {
        byte[] b = java.util.Arrays.copyOf(prefix, prefix.length + n);
        readFully(b, prefix.length, n);
        return b;
    }
}
