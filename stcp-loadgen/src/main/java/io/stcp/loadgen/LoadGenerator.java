package io.stcp.loadgen;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Drives a length-prefixed echo server: connects every connection first, pings each once, warms
 * up, then measures for the requested window. Each connection keeps {@code inFlight} frames
 * outstanding; each frame carries its send time, so the round trip is recorded per frame in an
 * HdrHistogram (µs), however long it is. Runs on Netty's native epoll transport where available, NIO elsewhere.
 *
 * <p>Frames: 4-byte big-endian length, then the payload, whose first 8 bytes are the send time.
 * Replies of the wrong length, and connections lost before the end, count as errors; such a reply
 * is answered with a new frame all the same (it keeps the window full), but is neither a message
 * nor a latency.
 */
public final class LoadGenerator {
    private static final int WARMUP = 1;
    private static final int MEASURE = 2;
    private static final int STOP = 3;
    private static final int CONNECT_BATCH = 200;
    private static final long STAGE_TIMEOUT_SECONDS = 60;

    private final LoadOptions options;
    /** Round trips in µs, of any length: its range grows to the longest (a fixed one would throw past it). */
    private final Recorder recorder = new Recorder(3);
    private final LongAdder received = new LongAdder();
    private final LongAdder errors = new LongAdder();
    private volatile int phase;

    private LoadGenerator(LoadOptions options) {
        this.options = options;
    }

    /**
     * Runs a load and returns what the measured window saw.
     *
     * @param progress where to print a live line every second, or {@code null}
     * @throws ConnectException if a connection cannot be made
     */
    public static LoadResult run(LoadOptions options, PrintStream progress) throws IOException, InterruptedException {
        return new LoadGenerator(options).run(progress);
    }

    private LoadResult run(PrintStream progress) throws IOException, InterruptedException {
        boolean epoll = Epoll.isAvailable();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(options.threads(),
                epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        List<Conn> conns = new ArrayList<>(options.connections());
        try {
            io.netty.handler.ssl.SslContext ssl = options.tls() == null ? null : TlsClients.context(options.tls());
            Bootstrap b = new Bootstrap().group(group)
                    .channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000);
            connectAll(b, conns, ssl);
            await(CompletableFuture.allOf(conns.stream().map(c -> c.pinged).toArray(CompletableFuture[]::new)), "ping");

            phase = WARMUP;
            conns.forEach(c -> c.channel.eventLoop().execute(c::fill));
            sleepReporting(options.warmup().toNanos(), progress, "warm-up", new Histogram(3));
            recorder.reset();
            received.reset();
            long errorsBefore = errors.sum();

            Histogram total = new Histogram(3); // grows as the recorder's intervals do
            long cpuBefore = serverCpuNanos();
            ServerSyscalls syscalls = options.countSyscalls()
                    ? ServerSyscalls.start(options.serverPid(), options.duration()) : null;
            long start = System.nanoTime();
            phase = MEASURE;
            sleepReporting(options.duration().toNanos(), progress, "measure", total);
            long end = System.nanoTime();
            long messages = received.sum();
            long cpuAfter = serverCpuNanos();
            phase = WARMUP; // not recorded any more; the load goes on while perf ends its window
            long syscallCount = syscalls == null ? -1 : syscalls.await();
            phase = STOP;
            total.add(recorder.getIntervalHistogram());
            if (progress != null) {
                progress.println();
            }
            double seconds = (end - start) / 1e9;
            return new LoadResult(conns.size(), messages, seconds, messages / seconds,
                    total.getValueAtPercentile(50), total.getValueAtPercentile(90), total.getValueAtPercentile(99),
                    total.getValueAtPercentile(99.9), total.getMaxValue(), errors.sum() - errorsBefore,
                    cpuBefore < 0 || cpuAfter < 0 || messages == 0 ? Double.NaN : (cpuAfter - cpuBefore) / 1e3 / messages,
                    syscallCount < 0 || messages == 0 ? Double.NaN : (double) syscallCount / messages);
        } finally {
            phase = STOP;
            for (Conn c : conns) {
                c.channel.close();
            }
            for (Conn c : conns) {
                c.channel.closeFuture().await(5, TimeUnit.SECONDS);
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
        }
    }

    /** The server process's total CPU time so far, or -1 when unknown. */
    private long serverCpuNanos() {
        if (options.serverPid() <= 0) {
            return -1;
        }
        return ProcessHandle.of(options.serverPid()).flatMap(h -> h.info().totalCpuDuration())
                .map(java.time.Duration::toNanos).orElse(-1L);
    }

    private void connectAll(Bootstrap b, List<Conn> conns, io.netty.handler.ssl.SslContext ssl)
            throws IOException, InterruptedException {
        InetSocketAddress remote = new InetSocketAddress(options.host(), options.port());
        List<String> sources = options.sourceAddresses();
        for (int first = 0; first < options.connections(); first += CONNECT_BATCH) {
            List<ChannelFuture> batch = new ArrayList<>();
            for (int i = first; i < Math.min(options.connections(), first + CONNECT_BATCH); i++) {
                Conn conn = new Conn();
                Bootstrap bi = b.clone().handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (ssl != null) {
                            ch.pipeline().addLast(ssl.newHandler(ch.alloc(), options.host(), options.port()));
                        }
                        ch.pipeline().addLast(new LengthFieldBasedFrameDecoder((1 << 20) + 4, 0, 4, 0, 4), conn);
                    }
                });
                ChannelFuture f = sources.isEmpty() ? bi.connect(remote)
                        : bi.connect(remote, new InetSocketAddress(sources.get(i % sources.size()), 0));
                conn.channel = f.channel();
                batch.add(f);
                conns.add(conn);
            }
            for (ChannelFuture f : batch) {
                if (!f.await(STAGE_TIMEOUT_SECONDS, TimeUnit.SECONDS) || !f.isSuccess()) {
                    ConnectException e = new ConnectException("cannot connect to " + remote + " ("
                            + (f.cause() == null ? "timed out" : f.cause().getMessage()) + ")");
                    if (f.cause() != null) {
                        e.initCause(f.cause());
                    }
                    throw e;
                }
            }
        }
    }

    private void sleepReporting(long nanos, PrintStream progress, String stage, Histogram total)
            throws InterruptedException {
        long end = System.nanoTime() + nanos;
        long last = received.sum();
        long lastAt = System.nanoTime();
        long startedAt = lastAt;
        while (true) {
            long left = end - System.nanoTime();
            if (left <= 0) {
                return;
            }
            TimeUnit.NANOSECONDS.sleep(Math.min(left, TimeUnit.SECONDS.toNanos(1)));
            Histogram interval = recorder.getIntervalHistogram();
            total.add(interval);
            long now = System.nanoTime();
            long count = received.sum();
            if (progress != null) {
                progress.printf("\r  %-8s %5.1fs %,12.0f msg/s  p99 %,7d µs  errors %d   ", stage,
                        (now - startedAt) / 1e9, (count - last) * 1e9 / (now - lastAt),
                        interval.getValueAtPercentile(99), errors.sum());
                progress.flush();
            }
            last = count;
            lastAt = now;
        }
    }

    private static void await(CompletableFuture<?> f, String stage) throws IOException, InterruptedException {
        try {
            f.get(STAGE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IOException(stage + " failed: " + e, e);
        }
    }

    /** One connection; all methods run on its event loop. */
    private final class Conn extends ChannelInboundHandlerAdapter {
        final CompletableFuture<Void> pinged = new CompletableFuture<>();
        volatile Channel channel;
        ChannelHandlerContext ctx;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            this.ctx = ctx;
            ctx.writeAndFlush(frame());
        }

        /** Starts the window of {@code inFlight} frames. */
        void fill() {
            for (int i = 0; i < options.inFlight(); i++) {
                ctx.write(frame());
            }
            ctx.flush();
        }

        private ByteBuf frame() {
            ByteBuf b = ctx.alloc().directBuffer(4 + options.payloadSize());
            b.writeInt(options.payloadSize()).writeLong(System.nanoTime()).writeZero(options.payloadSize() - 8);
            return b;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf b = (ByteBuf) msg;
            boolean echo = b.readableBytes() == options.payloadSize();
            long sentAt = echo ? b.readLong() : 0;
            b.release();
            if (!echo) {
                errors.increment(); // not our frame back: no message, and no send time to measure from
            }
            if (!pinged.isDone()) {
                pinged.complete(null);
                return;
            }
            int p = phase;
            if (p == MEASURE && echo) {
                recorder.recordValue(Math.max(1, (System.nanoTime() - sentAt) / 1000));
                received.increment();
            }
            if (p < STOP) {
                if (options.pipelined()) {
                    ctx.write(frame());
                } else {
                    ctx.writeAndFlush(frame());
                }
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (options.pipelined()) {
                ctx.flush();
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (phase != STOP) {
                errors.increment();
            }
            pinged.completeExceptionally(new IOException("connection closed by the server"));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            errors.increment();
            ctx.close();
        }
    }
}
