package io.stcp.internal;

import org.jspecify.annotations.Nullable;

/** Reads the number a system property of stcp's sets ({@code -Dio.stcp.…=N}). */
final class NumberProperty {
    private NumberProperty() {}

    /** A property's number: {@code unset} when it is not set, -1 when it is not a number >= 0. */
    static long nonNegative(@Nullable String value, long unset) {
        if (value == null || value.isBlank()) {
            return unset;
        }
        try {
            return Math.max(-1, Long.parseLong(value.trim()));
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
