package io.stcp.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * {@link VarHandle}s for fields, so that a class whose instances are many (one per connection)
 * keeps its counters and flags as plain fields rather than atomic objects of their own.
 */
final class Fields {

    private Fields() {}

    /**
     * The handle of the field {@code name} of the class that made {@code lookup}
     * ({@code MethodHandles.lookup()}, so private fields are reachable).
     *
     * @throws ExceptionInInitializerError if there is no such field: a bug, found when the class loads
     */
    static VarHandle handle(MethodHandles.Lookup lookup, String name, Class<?> type) {
        try {
            return lookup.findVarHandle(lookup.lookupClass(), name, type);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
