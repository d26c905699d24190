package io.stcp.internal;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.ByteBuffer;
import org.jspecify.annotations.Nullable;

/**
 * Direct memory for {@link DirectChunks}, which can be freed at once rather than when the collector
 * finds its buffer unreachable: on JDK 22 and later each allocation is a shared
 * {@code java.lang.foreign.Arena} of its own, and freeing it closes that arena. The FFM API is a
 * preview in JDK 21, the oldest JDK stcp runs on, so it is reached through method handles; on
 * JDK 21 an allocation is a plain {@link ByteBuffer#allocateDirect} buffer, which the JDK frees
 * with the collection that finds it unreachable.
 */
final class ChunkMemory {
    // The FFM calls an allocation makes; both null before JDK 22.
    private static final @Nullable MethodHandle OF_SHARED; // () -> AutoCloseable (an Arena)
    private static final @Nullable MethodHandle ALLOCATE;  // (AutoCloseable, long) -> ByteBuffer

    static {
        MethodHandle ofShared = null;
        MethodHandle allocate = null;
        if (Runtime.version().feature() >= 22) {
            try {
                MethodHandles.Lookup lookup = MethodHandles.publicLookup();
                Class<?> arena = Class.forName("java.lang.foreign.Arena");
                Class<?> segment = Class.forName("java.lang.foreign.MemorySegment");
                ofShared = lookup.findStatic(arena, "ofShared", MethodType.methodType(arena))
                        .asType(MethodType.methodType(AutoCloseable.class));
                MethodHandle alloc = lookup.findVirtual(arena, "allocate", MethodType.methodType(segment, long.class));
                MethodHandle asBuffer = lookup.findVirtual(segment, "asByteBuffer", MethodType.methodType(ByteBuffer.class));
                allocate = MethodHandles.filterReturnValue(alloc, asBuffer)
                        .asType(MethodType.methodType(ByteBuffer.class, AutoCloseable.class, long.class));
            } catch (ReflectiveOperationException e) {
                ofShared = null;
                allocate = null;
            }
        }
        OF_SHARED = ofShared;
        ALLOCATE = allocate;
    }

    /**
     * Direct memory and what frees it.
     *
     * @param owner closed to free {@code buffer} at once; null when only the collector frees it
     */
    record Allocation(ByteBuffer buffer, @Nullable AutoCloseable owner) {
        /** Frees the memory at once, or leaves it to the collector; the buffer must not be used again. */
        void free() {
            if (owner != null) {
                try {
                    owner.close();
                } catch (Exception e) {
                    throw new IllegalStateException("freeing a chunk: " + e, e); // an arena's close throws nothing checked
                }
            }
        }
    }

    private ChunkMemory() {}

    /** Whether memory is freed at once (JDK 22 and later). */
    static boolean freesAtOnce() {
        return OF_SHARED != null;
    }

    /**
     * {@code size} bytes of zeroed direct memory.
     *
     * @throws OutOfMemoryError if the JVM's direct memory limit or the system's memory is reached
     */
    static Allocation allocate(int size) {
        if (OF_SHARED == null || ALLOCATE == null) {
            return new Allocation(ByteBuffer.allocateDirect(size), null);
        }
        AutoCloseable arena;
        try {
            arena = (AutoCloseable) OF_SHARED.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
        try {
            return new Allocation((ByteBuffer) ALLOCATE.invokeExact(arena, (long) size), arena);
        } catch (Throwable t) {
            try {
                arena.close();
            } catch (Exception ignored) {
                // nothing was allocated in it
            }
            throw rethrow(t);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException(t);
    }
}
