package io.stcp.internal;

import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantLock;

/**
 * SIGINT and SIGTERM as events, for {@link io.stcp.TcpServer#runUntilSignal}: the JDK's
 * {@code sun.misc.Signal} (module {@code jdk.unsupported}, in every standard JDK), reached through
 * reflection so that nothing here needs it to compile (module-info requires the module all the
 * same: an application on the module path would not resolve it otherwise). A handled signal does
 * not end the JVM, so the application shuts down on its own terms and exits 0. Where the module is
 * missing (an application on the class path, in a jlink'd runtime without it), {@link #handle}
 * returns null and the caller falls back to a shutdown hook.
 *
 * <p><b>States.</b> The JVM has one handler per signal, so stcp installs one of its own, the
 * dispatcher, which runs every registered handler. No registration: the handlers found at the
 * first registration (the JVM's, which end it, or the application's) are in place. The first
 * registration installs the dispatcher and keeps those; each signal then runs every registered
 * handler, so that several servers waiting at once all hear it; when the last registration is
 * closed the kept handlers are put back, so a signal ends the JVM again as it did before (unless
 * someone replaced the dispatcher meanwhile: theirs stays). {@link #lock} guards the changes.
 */
final class Signals {
    private static final String[] NAMES = {"INT", "TERM"};
    private static final ReentrantLock lock = new ReentrantLock();
    private static final List<Runnable> handlers = new CopyOnWriteArrayList<>(); // read by the dispatcher without the lock
    private static Object dispatcher;   // guarded by lock; made once
    private static Object[] previous;   // guarded by lock; the handlers replaced, while the dispatcher is installed

    private Signals() {}

    /** A handler's registration; {@link #close()} removes it. Idempotent, any thread. */
    interface Registration extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Runs {@code handler} on a thread of the JDK's each time SIGINT or SIGTERM arrives, instead of
     * the default action (ending the JVM), until the registration is closed.
     *
     * @return the registration, or null if signals cannot be handled in this runtime
     */
    static Registration handle(Runnable handler) {
        Runnable own = () -> handler.run(); // one object per registration, removed by identity
        lock.lock();
        try {
            if (handlers.isEmpty()) {
                Object[] replaced = install();
                if (replaced == null) {
                    return null;
                }
                previous = replaced;
            }
            handlers.add(own);
        } finally {
            lock.unlock();
        }
        return () -> remove(own);
    }

    private static void remove(Runnable own) {
        lock.lock();
        try {
            if (handlers.remove(own) && handlers.isEmpty()) {
                restore();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Runs every registered handler; one that throws does not keep the signal from the others, and is rethrown after. */
    private static void dispatch() {
        Throwable failure = null;
        for (Runnable h : handlers) {
            try {
                h.run();
            } catch (RuntimeException | Error e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure instanceof RuntimeException re) {
            throw re;
        }
        if (failure instanceof Error er) {
            throw er;
        }
    }

    /** Installs the dispatcher for every signal; returns the handlers it replaced, or null (nothing changed). */
    private static Object[] install() {
        try {
            Api api = Api.get();
            if (dispatcher == null) {
                dispatcher = Proxy.newProxyInstance(api.handlerType.getClassLoader(), new Class<?>[] {api.handlerType},
                        (self, method, args) -> switch (method.getName()) {
                            case "handle" -> {
                                dispatch();
                                yield null;
                            }
                            case "hashCode" -> System.identityHashCode(self);
                            case "equals" -> self == args[0];
                            default -> "stcp signal handler";
                        });
            }
            Object[] replaced = new Object[NAMES.length];
            for (int i = 0; i < NAMES.length; i++) {
                try {
                    replaced[i] = api.swap(NAMES[i], dispatcher);
                } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
                    for (int j = 0; j < i; j++) {
                        api.swap(NAMES[j], replaced[j]); // all or nothing
                    }
                    throw e;
                }
            }
            return replaced;
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return null;
        }
    }

    /** Puts the replaced handlers back, except where someone has replaced the dispatcher since. */
    private static void restore() {
        try {
            Api api = Api.get();
            for (int i = 0; i < NAMES.length; i++) {
                Object current = api.swap(NAMES[i], previous[i]);
                if (current != dispatcher) {
                    api.swap(NAMES[i], current); // not ours any more: leave it
                }
            }
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            // worked when installing; nothing more to do
        } finally {
            previous = null;
        }
    }

    /** {@code sun.misc.Signal}, reflectively. */
    private record Api(Class<?> handlerType, Constructor<?> named, Method handle) {
        private static Api api; // guarded by lock

        static Api get() throws ReflectiveOperationException {
            if (api == null) {
                Class<?> signal = Class.forName("sun.misc.Signal");
                Class<?> handlerType = Class.forName("sun.misc.SignalHandler");
                api = new Api(handlerType, signal.getConstructor(String.class),
                        signal.getMethod("handle", signal, handlerType));
            }
            return api;
        }

        /** Installs {@code handler} for the signal {@code name}; returns the one it replaced. */
        Object swap(String name, Object handler) throws ReflectiveOperationException {
            return handle.invoke(null, named.newInstance(name), handler);
        }
    }
}
