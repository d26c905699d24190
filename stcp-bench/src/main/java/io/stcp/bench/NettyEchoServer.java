package io.stcp.bench;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The Netty side of the comparison: the idiomatic Netty echo of 4-byte length-prefixed frames on
 * one event loop (a one-core server), {@link LengthFieldBasedFrameDecoder} keeping the header,
 * writes flushed once per read batch. Frames carry at most a 1 MiB body, as stcp's echo and the
 * rig's loads ({@link Load#MAX_SIZE}).
 *
 * <p>The decoder's cumulator is Netty's default, {@code MERGE_CUMULATOR}, unless {@code --cumulator
 * composite} asks for {@code COMPOSITE_CUMULATOR}, which is what a Netty user would pick for frames
 * larger than a read (64 KiB): an echoed frame is a retained slice of the merged cumulation, and
 * while a slice is pending every read that outgrows the buffer copies the whole cumulation again.
 * Measured here at 1 MiB × 4 in flight: about 4.7 ms of server CPU per frame merged, 1.0 ms
 * composite; at 64 bytes × 16 merged is about a third cheaper. {@code compare} picks per load
 * ({@link #cumulatorFor(int)}).
 */
@Command(name = "netty-echo", mixinStandardHelpOptions = true, description = "Netty echo server for comparisons.")
public final class NettyEchoServer implements Callable<Integer> {

    /** The largest frame, header included: a 1 MiB body and its 4-byte length. */
    static final int MAX_FRAME = Load.MAX_SIZE;

    @Option(names = "--addr", defaultValue = "127.0.0.1:9000", description = "HOST:PORT (default: ${DEFAULT-VALUE}).")
    String address;

    @Option(names = "--transport", defaultValue = "epoll", description = "epoll or nio (default: ${DEFAULT-VALUE}).")
    String transport;

    @Option(names = "--cumulator", defaultValue = "merge", description = "The frame decoder's cumulator: merge (Netty's"
            + " default) or composite, for frames larger than a read (default: ${DEFAULT-VALUE}).")
    String cumulator;

    /** The frame size above which a frame spans several of Netty's reads: its largest read buffer. */
    static final int LARGEST_READ = 64 * 1024;

    /** The cumulator a Netty user would choose for frames of {@code frameSize} bytes. */
    static String cumulatorFor(int frameSize) {
        return frameSize > LARGEST_READ ? "composite" : "merge";
    }

    @Option(names = "--tls-cert", description = "Serve TLS (Netty's SslHandler) with this PEM certificate chain.")
    java.nio.file.Path tlsCert;

    @Option(names = "--tls-key", description = "The PEM (PKCS#8) private key of --tls-cert.")
    java.nio.file.Path tlsKey;

    @Option(names = "--tls-provider", defaultValue = "jdk", description = "jdk or openssl (default: ${DEFAULT-VALUE}).")
    String tlsProvider;

    @Option(names = "--read-idle-seconds", defaultValue = "0", description = "Close a connection that sends nothing for"
            + " this long (Netty's ReadTimeoutHandler), as stcp's echo example does after 5 minutes (300); 0: none"
            + " (default: ${DEFAULT-VALUE}).")
    int readIdleSeconds;

    @ChannelHandler.Sharable
    private static final class Echo extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.write(msg, ctx.voidPromise());
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** A started server: its listening channel and event loops; {@link #close()} stops it. */
    record Running(Channel channel, EventLoopGroup boss, EventLoopGroup worker) implements AutoCloseable {
        int port() {
            return ((java.net.InetSocketAddress) channel.localAddress()).getPort();
        }

        /** Closes the listener and the connections, and waits (at most 10 s) for the event loops to end. */
        @Override
        public void close() {
            try {
                channel.close().await(10, TimeUnit.SECONDS);
                boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
                worker.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt(); // the caller is ending anyway; the loops were asked to stop
            }
        }
    }

    /**
     * Starts the echo on {@code host:port} (port 0: a free one), one event loop, epoll or NIO, the
     * merge or the composite cumulator, over TLS with {@code ssl} unless it is null, closing
     * connections silent for {@code readIdleSeconds} unless it is 0.
     */
    static Running start(String host, int port, boolean epoll, boolean composite,
                         io.netty.handler.ssl.SslContext ssl, int readIdleSeconds) throws InterruptedException {
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        EventLoopGroup worker = new MultiThreadIoEventLoopGroup(1, epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        Echo echo = new Echo();
        try {
            Channel ch = new ServerBootstrap().group(boss, worker)
                    .channel(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel c) {
                            LengthFieldBasedFrameDecoder frames = new LengthFieldBasedFrameDecoder(MAX_FRAME, 0, 4, 0, 0);
                            if (composite) {
                                frames.setCumulator(ByteToMessageDecoder.COMPOSITE_CUMULATOR);
                            }
                            if (ssl != null) {
                                c.pipeline().addLast(ssl.newHandler(c.alloc()));
                            }
                            if (readIdleSeconds > 0) {
                                c.pipeline().addLast(new io.netty.handler.timeout.ReadTimeoutHandler(readIdleSeconds));
                            }
                            c.pipeline().addLast(frames, echo);
                        }
                    })
                    .bind(host, port).sync().channel();
            return new Running(ch, boss, worker);
        } catch (RuntimeException | InterruptedException e) {
            boss.shutdownGracefully();
            worker.shutdownGracefully();
            throw e;
        }
    }

    @Override
    public Integer call() throws Exception {
        boolean epoll = transport.equals("epoll");
        if (!epoll && !transport.equals("nio")) {
            throw new IllegalArgumentException("--transport: " + transport + " (expected: epoll or nio)");
        }
        if (!cumulator.equals("merge") && !cumulator.equals("composite")) {
            throw new IllegalArgumentException("--cumulator: " + cumulator + " (expected: merge or composite)");
        }
        if (!tlsProvider.equals("jdk") && !tlsProvider.equals("openssl")) {
            throw new IllegalArgumentException("--tls-provider: " + tlsProvider + " (expected: jdk or openssl)");
        }
        io.netty.handler.ssl.SslContext ssl = tlsCert == null ? null
                : io.netty.handler.ssl.SslContextBuilder.forServer(tlsCert.toFile(), tlsKey.toFile())
                        .protocols("TLSv1.3", "TLSv1.2")
                        .sslProvider(tlsProvider.equals("openssl") ? io.netty.handler.ssl.SslProvider.OPENSSL
                                : io.netty.handler.ssl.SslProvider.JDK)
                        .build();
        if (readIdleSeconds < 0) {
            throw new IllegalArgumentException("--read-idle-seconds: " + readIdleSeconds + " (expected: >= 0)");
        }
        int colon = address.lastIndexOf(':');
        try (Running server = start(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1)), epoll,
                cumulator.equals("composite"), ssl, readIdleSeconds)) {
            System.out.println("listening on " + server.channel().localAddress()
                    + (ssl == null ? "" : " with TLS (" + tlsProvider + ")"));
            CountDownLatch stop = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
            stop.await();
            return 0;
        }
    }
}
