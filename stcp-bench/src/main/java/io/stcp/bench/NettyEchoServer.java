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
 * writes flushed once per read batch.
 */
@Command(name = "netty-echo", mixinStandardHelpOptions = true, description = "Netty echo server for comparisons.")
public final class NettyEchoServer implements Callable<Integer> {

    @Option(names = "--addr", defaultValue = "127.0.0.1:9000", description = "HOST:PORT (default: ${DEFAULT-VALUE}).")
    String address;

    @Option(names = "--transport", defaultValue = "epoll", description = "epoll or nio (default: ${DEFAULT-VALUE}).")
    String transport;

    @Option(names = "--tls-cert", description = "Serve TLS (Netty's SslHandler) with this PEM certificate chain.")
    java.nio.file.Path tlsCert;

    @Option(names = "--tls-key", description = "The PEM (PKCS#8) private key of --tls-cert.")
    java.nio.file.Path tlsKey;

    @Option(names = "--tls-provider", defaultValue = "jdk", description = "jdk or openssl (default: ${DEFAULT-VALUE}).")
    String tlsProvider;

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
        io.netty.handler.ssl.SslContext ssl = tlsCert == null ? null
                : io.netty.handler.ssl.SslContextBuilder.forServer(tlsCert.toFile(), tlsKey.toFile())
                        .protocols("TLSv1.3", "TLSv1.2")
                        .sslProvider(tlsProvider.equals("openssl") ? io.netty.handler.ssl.SslProvider.OPENSSL
                                : io.netty.handler.ssl.SslProvider.JDK)
                        .build();
        try {
            int colon = address.lastIndexOf(':');
            Channel ch = new ServerBootstrap().group(boss, worker)
                    .channel(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel c) {
                            if (ssl != null) {
                                c.pipeline().addLast(ssl.newHandler(c.alloc()));
                            }
                            c.pipeline().addLast(new LengthFieldBasedFrameDecoder((1 << 20) + 4, 0, 4, 0, 0), echo);
                        }
                    })
                    .bind(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1))).sync().channel();
            System.out.println("listening on " + ch.localAddress() + (ssl == null ? "" : " with TLS (" + tlsProvider + ")"));
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
