package io.stcp.internal;

import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongConsumer;

/**
 * SIGINT and SIGTERM as events, for {@link io.stcp.TcpServer#runUntilSignal} and
 * {@link io.stcp.TcpClient#runUntilSignal}: the JDK's
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
 * handler, so that several servers and clients waiting at once all hear it; when the last
 * registration is closed the kept handlers are put back, so a signal ends the JVM again as it did
 * before (unless someone replaced the dispatcher meanwhile: theirs stays). {@link #lock} guards
 * the changes.
 *
 * <p><b>A signal stays received.</b> The dispatcher numbers the signals it receives (1, 2, ...;
 * {@link #received}, never reset) and hands each handler the number. A registration tells how many
 * had been received before it: a signal that came while one was already waiting and another
 * not yet (or between the last registration's removal and the restore, when no handler is left)
 * is not lost for the later one, which sees it at once.
 */
final class Signals {
    private static final String[] NAMES = {"INT", "TERM"};
    private static final ReentrantLock lock = new ReentrantLock();
    private static final List<LongConsumer> handlers = new CopyOnWriteArrayList<>(); // read by the dispatcher without the lock
    private static final AtomicLong received = new AtomicLong(); // the signals the dispatcher has received, ever
    private static Object dispatcher;   // guarded by lock; made once
    private static Object[] previous;   // guarded by lock; the handlers replaced, while the dispatcher is installed

    private Signals() {}

    /** A handler's registration; {@link #close()} removes it. Idempotent, any thread. */
    interface Registration extends AutoCloseable {
        /**
         * How many signals the process had received when the handler was registered (0: none). A
         * signal arriving during the registration may be counted here and handed to the handler too.
         */
        long receivedBefore();

        @Override
        void close();
    }

    /**
     * Runs {@code handler} on a thread of the JDK's each time SIGINT or SIGTERM arrives, instead of
     * the default action (ending the JVM), until the registration is closed; it is given the
     * signal's number (1 for the first the process received, counting from the first registration).
     *
     * @return the registration, or null if signals cannot be handled in this runtime
     */
    static Registration handle(LongConsumer handler) {
        LongConsumer own = n -> handler.accept(n); // one object per registration, removed by identity
        long before;
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
            before = received.get(); // after the add: a later signal reaches the handler
        } finally {
            lock.unlock();
        }
        return new Registration() {
            @Override
            public long receivedBefore() {
                return before;
            }

            @Override
            public void close() {
                remove(own);
            }
        };
    }

    private static void remove(LongConsumer own) {
        lock.lock();
        try {
            if (handlers.remove(own) && handlers.isEmpty()) {
                restore();
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Counts the signal, then runs every registered handler; one that throws does not keep the
     * signal from the others, and is rethrown after.
     */
    private static void dispatch() {
        long n = received.incrementAndGet(); // first: a handler registered from now on sees it in receivedBefore
        Throwable failure = null;
        for (LongConsumer h : handlers) {
            try {
                h.accept(n);
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
