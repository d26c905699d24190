package io.stcp.bench.jmh;

import io.stcp.BasicMetaInfo;
import io.stcp.CloseReason;
import io.stcp.Connection;
import io.stcp.MetaInfo;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.time.Instant;

/**
 * A {@link Connection} without a socket, with its own id: enough for a sender and a registry to
 * hold it, so fan-out and binding costs can be measured for thousands of connections without
 * thousands of descriptors. Nothing can be read from it; writes are discarded.
 */
public final class NullConnection implements Connection {
    private final long id;
    private volatile MetaInfo meta = new BasicMetaInfo("null");
    private volatile CloseReason reason;

    public NullConnection(long id) {
        this.id = id;
    }

    @Override public long id() { return id; }
    @Override public SocketAddress remoteAddress() { return null; }
    @Override public SocketAddress localAddress() { return null; }
    @Override public SocketChannel channel() { throw new UnsupportedOperationException(); }
    @Override public MetaInfo metaInfo() { return meta; }
    @Override public void metaInfo(MetaInfo metaInfo) { meta = metaInfo; }
    @Override public int read(byte[] b, int off, int len) { return -1; }
    @Override public void readFully(byte[] b, int off, int len) throws IOException { throw new EOFException(); }
    @Override public byte[] readBytes(int n) throws IOException { throw new EOFException(); }
    @Override public byte[] readBytes(byte[] prefix, int n) throws IOException { throw new EOFException(); }
    @Override public int readUnsignedByte() throws IOException { throw new EOFException(); }
    @Override public short readShort() throws IOException { throw new EOFException(); }
    @Override public short readShortLE() throws IOException { throw new EOFException(); }
    @Override public int readInt() throws IOException { throw new EOFException(); }
    @Override public int readIntLE() throws IOException { throw new EOFException(); }
    @Override public long readLong() throws IOException { throw new EOFException(); }
    @Override public long readLongLE() throws IOException { throw new EOFException(); }
    @Override public int buffered() { return 0; }
    @Override public boolean isReaderThread() { return false; }
    @Override public byte[] readLine(int maxLength) throws IOException { throw new EOFException(); }
    @Override public String remoteAddressText() { return "null"; }
    @Override public <T> T attribute(io.stcp.AttributeKey<T> key) { return null; }
    @Override public <T> void attribute(io.stcp.AttributeKey<T> key, T value) {}
    @Override public <T> T attributeIfAbsent(io.stcp.AttributeKey<T> key, java.util.function.Supplier<? extends T> f) {
        return f.get();
    }
    @Override public long bytesRead() { return 0; }
    @Override public void readTimeout(Duration timeout) {}
    @Override public Duration readTimeout() { return Duration.ZERO; }
    @Override public void readDeadline(Instant deadline) {}
    @Override public void write(ByteBuffer[] buffers, int offset, int length) {
        for (int i = offset; i < offset + length; i++) {
            buffers[i].position(buffers[i].limit());
        }
    }
    @Override public Duration writeTimeout() { return Duration.ZERO; }
    @Override public void writeTimeout(Duration timeout) {}
    @Override public void shutdownOutput() {}
    @Override public void onWriteIdle(Duration interval, Runnable action) {}
    @Override public boolean isOpen() { return reason == null; }
    @Override public CloseReason closeReason() { return reason; }
    @Override public Throwable closeCause() { return null; }
    @Override public void close(CloseReason r) {
        if (reason == null) {
            reason = r;
        }
    }
    @Override public int closeGracefully(Duration timeout, Drain drain) {
        int n = drain.drain(timeout);
        close(CloseReason.CLOSED);
        return n;
    }
}
