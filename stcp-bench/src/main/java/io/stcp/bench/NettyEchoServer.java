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
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The Netty side of the comparison: the idiomatic Netty echo of 4-byte length-prefixed frames on
 * one event loop (a one-core server), {@link LengthFieldBasedFrameDecoder} keeping the header,
 * writes flushed once per read batch. Frames carry at most a 1 MiB body, as stcp's echo and the
 * rig's loads ({@link Load#MAX_SIZE}).
 */
@Command(name = "netty-echo", mixinStandardHelpOptions = true, description = "Netty echo server for comparisons.")
public final class NettyEchoServer implements Callable<Integer> {

    /** The largest frame, header included: a 1 MiB body and its 4-byte length. */
    static final int MAX_FRAME = Load.MAX_SIZE;

    @Option(names = "--addr", defaultValue = "127.0.0.1:9000", description = "HOST:PORT (default: ${DEFAULT-VALUE}).")
    String address;

    @Option(names = "--transport", defaultValue = "epoll", description = "epoll or nio (default: ${DEFAULT-VALUE}).")
    String transport;

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

    @Override
    public Integer call() throws Exception {
        boolean epoll = transport.equals("epoll");
        if (!epoll && !transport.equals("nio")) {
            throw new IllegalArgumentException("--transport: " + transport + " (expected: epoll or nio)");
        }
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        EventLoopGroup worker = new MultiThreadIoEventLoopGroup(1, epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        Echo echo = new Echo();
        try {
            int colon = address.lastIndexOf(':');
            Channel ch = new ServerBootstrap().group(boss, worker)
                    .channel(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel c) {
                            c.pipeline().addLast(new LengthFieldBasedFrameDecoder(MAX_FRAME, 0, 4, 0, 0), echo);
                        }
                    })
                    .bind(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1))).sync().channel();
            System.out.println("listening on " + ch.localAddress());
            CountDownLatch stop = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
            stop.await();
            return 0;
        } finally {
            boss.shutdownGracefully();
            worker.shutdownGracefully();
        }
    }
}
