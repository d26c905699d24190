package io.stcp.internal;

import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;

/**
 * SIGINT and SIGTERM as events, for {@link io.stcp.TcpServer#runUntilSignal}: the JDK's
 * {@code sun.misc.Signal} (module {@code jdk.unsupported}, in every standard JDK), reached through
 * reflection so that nothing here needs it to compile. A handled signal does not end the JVM, so
 * the application shuts down on its own terms and exits 0. Where the module is missing (a jlink'd
 * runtime without it), {@link #handle} returns false and the caller falls back to a shutdown hook.
 */
final class Signals {
    private Signals() {}

    /**
     * Runs {@code handler} on a thread of the JDK's each time SIGINT or SIGTERM arrives, instead of
     * the default action (ending the JVM).
     *
     * @return false if signals cannot be handled in this runtime
     */
    static boolean handle(Runnable handler) {
        try {
            Class<?> signal = Class.forName("sun.misc.Signal");
            Class<?> handlerType = Class.forName("sun.misc.SignalHandler");
            Constructor<?> named = signal.getConstructor(String.class);
            Method install = signal.getMethod("handle", signal, handlerType);
            Object proxy = Proxy.newProxyInstance(handlerType.getClassLoader(), new Class<?>[] {handlerType},
                    (self, method, args) -> {
                        if (method.getName().equals("handle")) {
                            handler.run();
                            return null;
                        }
                        return switch (method.getName()) {
                            case "hashCode" -> System.identityHashCode(self);
                            case "equals" -> self == args[0];
                            default -> "stcp signal handler";
                        };
                    });
            for (String name : new String[] {"INT", "TERM"}) {
                install.invoke(null, named.newInstance(name), proxy);
            }
            return true;
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return false;
        }
    }
}
