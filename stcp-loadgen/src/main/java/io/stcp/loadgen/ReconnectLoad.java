package io.stcp.loadgen;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
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
import io.netty.handler.ssl.SslContext;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * New connections per second: {@code connections} slots each loop connect (and TLS handshake) →
 * one echoed frame → close, for {@code warmup} and then {@code duration}. A "message" of the
 * {@link LoadResult} is one such cycle, its latency the cycle's time; the server's CPU per
 * message is its CPU per cycle.
 */
public final class ReconnectLoad {
    private static final int WARMUP = 1;
    private static final int MEASURE = 2;
    private static final int STOP = 3;

    private final LoadOptions options;
    private final Recorder recorder = new Recorder(TimeUnit.SECONDS.toMicros(60), 3);
    private final LongAdder cycles = new LongAdder();
    private final LongAdder errors = new LongAdder();
    private volatile int phase = WARMUP;
    private Bootstrap bootstrap;

    private ReconnectLoad(LoadOptions options) {
        this.options = options;
    }

    /** Runs the load and returns what its measured window saw. */
    public static LoadResult run(LoadOptions options, PrintStream progress) throws Exception {
        return new ReconnectLoad(options).run(progress);
    }

    private LoadResult run(PrintStream progress) throws Exception {
        boolean epoll = Epoll.isAvailable();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(options.threads(),
                epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        try {
            SslContext ssl = options.tls() == null ? null : TlsClients.context(options.tls());
            InetSocketAddress remote = new InetSocketAddress(options.host(), options.port());
            bootstrap = new Bootstrap().group(group).channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
                    .option(ChannelOption.TCP_NODELAY, true).option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000)
                    .remoteAddress(remote)
                    .handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            if (ssl != null) {
                                ch.pipeline().addLast(ssl.newHandler(ch.alloc(), options.host(), options.port()));
                            }
                            ch.pipeline().addLast(new LengthFieldBasedFrameDecoder((1 << 20) + 4, 0, 4, 0, 4), new Cycle());
                        }
                    });
            for (int i = 0; i < options.connections(); i++) {
                connect();
            }
            TimeUnit.NANOSECONDS.sleep(options.warmup().toNanos());
            recorder.reset();
            long cpuBefore = serverCpuNanos();
            long start = System.nanoTime();
            cycles.reset();
            long errorsBefore = errors.sum();
            phase = MEASURE;
            long end = start + options.duration().toNanos();
            while (System.nanoTime() < end) {
                TimeUnit.MILLISECONDS.sleep(Math.min(1000, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
                if (progress != null) {
                    progress.printf("\r  measure %,10d cycles  errors %d   ", cycles.sum(), errors.sum() - errorsBefore);
                }
            }
            phase = STOP;
            long stop = System.nanoTime();
            long n = cycles.sum();
            long cpuAfter = serverCpuNanos();
            if (progress != null) {
                progress.println();
            }
            Histogram h = recorder.getIntervalHistogram();
            double seconds = (stop - start) / 1e9;
            return new LoadResult(options.connections(), n, seconds, n / seconds, h.getValueAtPercentile(50),
                    h.getValueAtPercentile(90), h.getValueAtPercentile(99), h.getValueAtPercentile(99.9),
                    h.getMaxValue(), errors.sum() - errorsBefore,
                    cpuBefore < 0 || cpuAfter < 0 || n == 0 ? Double.NaN : (cpuAfter - cpuBefore) / 1e3 / n, Double.NaN);
        } finally {
            phase = STOP;
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
        }
    }

    private void connect() {
        if (phase == STOP) {
            return;
        }
        bootstrap.connect().addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess()) {
                errors.increment();
                f.channel().eventLoop().schedule(this::connect, 10, TimeUnit.MILLISECONDS);
            }
        });
    }

    private long serverCpuNanos() {
        if (options.serverPid() <= 0) {
            return -1;
        }
        return ProcessHandle.of(options.serverPid()).flatMap(h -> h.info().totalCpuDuration())
                .map(java.time.Duration::toNanos).orElse(-1L);
    }

    /** One cycle: send a frame when connected, close at its echo, connect again when closed. */
    private final class Cycle extends ChannelInboundHandlerAdapter {
        private final long startedAt = System.nanoTime();
        private boolean echoed;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ByteBuf b = ctx.alloc().buffer(4 + options.payloadSize());
            b.writeInt(options.payloadSize()).writeZero(options.payloadSize());
            ctx.writeAndFlush(b); // the SslHandler holds it until the handshake is done
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf b = (ByteBuf) msg;
            boolean ok = b.readableBytes() == options.payloadSize();
            b.release();
            if (!ok) {
                errors.increment();
            }
            echoed = true;
            if (phase == MEASURE && ok) { // a wrong reply is an error, not a cycle
                cycles.increment();
                recorder.recordValue(Math.max(1, (System.nanoTime() - startedAt) / 1000));
            }
            ctx.close();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!echoed && phase != STOP) {
                errors.increment();
            }
            connect();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
