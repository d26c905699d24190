package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ServerConfig;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;

/**
 * {@link ConnectionSocket}, the socket of a connection's channel, against the JDK's socket adaptor
 * it forwards to: it passes on every method {@link Socket} has (a method a later JDK adds would
 * otherwise reach its refusing impl and throw, instead of acting as the JDK's), and a user sees
 * the same answers from it as from the JDK's adaptor, before and after its close — but for its
 * close, which is the connection's ({@code ChannelClosedWhileIdleTest} checks that on each transport).
 */
class ConnectionSocketTest {

    @Test
    void passesOnEveryMethodASocketHas() {
        List<String> missing = new ArrayList<>();
        for (Method m : Socket.class.getDeclaredMethods()) {
            int mod = m.getModifiers();
            if (Modifier.isStatic(mod) || m.isSynthetic() || !(Modifier.isPublic(mod) || Modifier.isProtected(mod))) {
                continue;
            }
            try {
                ConnectionSocket.class.getDeclaredMethod(m.getName(), m.getParameterTypes());
            } catch (NoSuchMethodException e) {
                missing.add(m.toString());
            }
        }
        assertThat(missing).as("Socket's methods ConnectionSocket does not pass on").isEmpty();
    }

    /** The same calls, in the same order, on the JDK's adaptor and on a connection's socket, give the same answers. */
    @Test
    void answersAsTheJdkAdaptorDoes() throws Exception {
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            List<String> jdk;
            try (SocketChannel ch = SocketChannel.open(listener.getLocalAddress()); SocketChannel peer = listener.accept()) {
                jdk = script(ch.socket(), ch, peer);
            }
            List<String> stcp;
            try (SocketChannel ch = SocketChannel.open(listener.getLocalAddress()); SocketChannel peer = listener.accept()) {
                // the JDK transport (no native source), whose channel blocks as the adaptor's does
                RealConnection c = ConnectionOpener.open(ch, ConnectionContext.inMemory(ServerConfig.builder().build()));
                try {
                    assertThat(c.channel().socket()).isInstanceOf(ConnectionSocket.class).isSameAs(c.channel().socket());
                    stcp = script(c.channel().socket(), c.channel(), peer);
                } finally {
                    c.close();
                }
            }
            assertThat(stcp).containsExactlyElementsOf(jdk);
        }
    }

    /** What a user sees of {@code s}, whose channel is {@code ch} and whose peer is {@code peer}; ports left out. */
    private static List<String> script(Socket s, SocketChannel ch, SocketChannel peer) throws Exception {
        List<String> seen = new ArrayList<>();
        seen.add("toString " + s.toString().replaceAll("port=\\d+", "port=P"));
        seen.add("the channel " + (s.getChannel() == ch));
        seen.add("connected " + s.isConnected() + " bound " + s.isBound() + " closed " + s.isClosed());
        seen.add("remote " + s.getInetAddress() + " local " + s.getLocalAddress());
        seen.add("soTimeout " + answer(s::getSoTimeout));
        s.setSoTimeout(20);
        seen.add("soTimeout set " + answer(s::getSoTimeout));
        InputStream in = s.getInputStream();
        seen.add("read with nothing sent " + answer(() -> in.read(new byte[4])));
        seen.add("available " + answer(in::available));
        s.setTcpNoDelay(true);
        seen.add("noDelay " + answer(s::getTcpNoDelay) + " " + answer(() -> s.getOption(StandardSocketOptions.TCP_NODELAY)));
        seen.add("keepAlive " + answer(s::getKeepAlive) + " linger " + answer(s::getSoLinger));
        seen.add("options " + s.supportedOptions().size());
        peer.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
        byte[] three = new byte[3];
        seen.add("read what the peer sent " + answer(() -> in.readNBytes(three, 0, 3)) + " " + three[2]);
        s.getOutputStream().write(new byte[] {7, 8});
        ByteBuffer two = ByteBuffer.allocate(2);
        while (two.hasRemaining() && peer.read(two) >= 0) {
            // the two bytes written, in one write or two
        }
        seen.add("the peer read " + two.get(0) + two.get(1));
        s.shutdownOutput();
        seen.add("output shut down " + s.isOutputShutdown() + ", the peer reads " + peer.read(ByteBuffer.allocate(1)));
        seen.add("output stream then " + answer(s::getOutputStream));
        s.close();
        seen.add("after close: closed " + s.isClosed() + " connected " + s.isConnected() + " bound " + s.isBound()
                + " channel open " + ch.isOpen());
        seen.add("input stream then " + answer(s::getInputStream));
        seen.add("the old stream reads " + answer(() -> in.read(new byte[1])));
        seen.add("soTimeout then " + answer(s::getSoTimeout));
        seen.add("toString then " + s.toString().replaceAll("port=\\d+", "port=P"));
        return seen;
    }

    private static String answer(Callable<?> call) {
        try {
            return String.valueOf(call.call());
        } catch (Exception e) {
            return e.toString();
        }
    }
}
