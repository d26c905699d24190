package io.stcp.epoll;

import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.channels.SocketChannel;

/**
 * The file descriptor behind a JDK {@link SocketChannel}. The JDK has no public API for it; its
 * channel implementation answers {@code sun.nio.ch.SelChImpl.getFDVal()}, which this class may
 * call only when {@code java.base} exports {@code sun.nio.ch} to it
 * ({@code --add-exports java.base/sun.nio.ch=ALL-UNNAMED}, or {@code =io.stcp.epoll} on the
 * module path, or {@code Add-Exports: java.base/sun.nio.ch} in an executable jar's manifest).
 */
final class Fds {
    private static final String SEL_CH_IMPL = "sun.nio.ch.SelChImpl";
    private static final MethodHandle FD_VAL;
    /** Why descriptors cannot be read, or null. */
    static final String UNAVAILABLE;

    static {
        MethodHandle handle = null;
        String reason = null;
        if (!Object.class.getModule().isExported("sun.nio.ch", Fds.class.getModule())) {
            reason = "java.base does not export sun.nio.ch to " + Fds.class.getModule()
                    + " (run with --add-exports java.base/sun.nio.ch=ALL-UNNAMED)";
        } else {
            try {
                Class<?> type = Class.forName(SEL_CH_IMPL);
                handle = MethodHandles.lookup().findVirtual(type, "getFDVal", MethodType.methodType(int.class))
                        .asType(MethodType.methodType(int.class, SocketChannel.class));
            } catch (ReflectiveOperationException | RuntimeException e) {
                reason = "this JDK has no " + SEL_CH_IMPL + ".getFDVal(): " + e;
            }
        }
        FD_VAL = handle;
        UNAVAILABLE = reason;
    }

    private Fds() {}

    static int of(SocketChannel channel) throws IOException {
        try {
            return (int) FD_VAL.invokeExact(channel);
        } catch (ClassCastException e) {
            throw new IOException("not a JDK socket channel: " + channel.getClass().getName(), e);
        } catch (Throwable t) {
            throw new IOException("cannot read the descriptor of " + channel, t);
        }
    }
}
