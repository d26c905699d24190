package io.stcp;

import java.math.BigDecimal;
import java.time.Duration;
import java.time.format.DateTimeParseException;

/**
 * Parses and formats durations the way Go's {@code time.ParseDuration} does ({@code "5µs"},
 * {@code "5us"}, {@code "50ms"}, {@code "1m30s"}, {@code "1.5h"}), and also ISO-8601
 * ({@code "PT0.05S"}).
 *
 * <p>A bare number such as {@code "5000"} is rejected: Go reads it as nanoseconds, which is a unit
 * trap. {@code "0"} alone is accepted as zero, as in Go. Units, in lower case as in Go: {@code ns},
 * {@code us}/{@code µs}, {@code ms}, {@code s}, {@code m}, {@code h} ({@code "1M"} is refused, not
 * read as a minute). Digits are ASCII. A duration that is not zero but shorter than a nanosecond
 * ({@code "0.1ns"}) is refused: Go would truncate it to zero, which a timeout reads as "none".
 */
public final class Durations {
    private Durations() {}

    /**
     * Parses a Go or ISO-8601 duration.
     *
     * @throws IllegalArgumentException with the offending text when it is neither
     */
    public static Duration parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("duration: null");
        }
        String s = text.strip();
        if (s.isEmpty()) {
            throw bad(text, "empty");
        }
        if (s.charAt(0) == 'P' || s.charAt(0) == 'p' || s.startsWith("-P") || s.startsWith("+P")) {
            try {
                return Duration.parse(s);
            } catch (DateTimeParseException e) {
                throw bad(text, "not a valid ISO-8601 duration");
            }
        }
        return parseGo(text, s);
    }

    private static Duration parseGo(String original, String s) {
        int i = 0;
        boolean negative = false;
        if (s.charAt(0) == '-' || s.charAt(0) == '+') {
            negative = s.charAt(0) == '-';
            i = 1;
        }
        if (s.substring(i).equals("0")) {
            return Duration.ZERO;
        }
        if (i == s.length()) {
            throw bad(original, "missing number");
        }
        BigDecimal totalNanos = BigDecimal.ZERO;
        while (i < s.length()) {
            int start = i;
            while (i < s.length() && (isDigit(s.charAt(i)) || s.charAt(i) == '.')) {
                i++;
            }
            if (start == i) {
                throw bad(original, "expected a number at position " + start);
            }
            BigDecimal number;
            try {
                number = new BigDecimal(s.substring(start, i));
            } catch (NumberFormatException e) {
                throw bad(original, "malformed number '" + s.substring(start, i) + "'");
            }
            int unitStart = i;
            while (i < s.length() && !isDigit(s.charAt(i)) && s.charAt(i) != '.') {
                i++;
            }
            if (unitStart == i) {
                throw bad(original, "missing unit after '" + s.substring(start, i)
                        + "' (a bare number would be nanoseconds in Go; write e.g. \"50ms\" or \"5s\")");
            }
            long unitNanos = unitNanos(original, s.substring(unitStart, i));
            totalNanos = totalNanos.add(number.multiply(BigDecimal.valueOf(unitNanos)));
        }
        long nanos;
        try {
            nanos = totalNanos.setScale(0, java.math.RoundingMode.DOWN).longValueExact();
        } catch (ArithmeticException e) {
            throw bad(original, "out of range");
        }
        if (nanos == 0 && totalNanos.signum() != 0) {
            throw bad(original, "shorter than a nanosecond (it would be zero, which a timeout reads as none)");
        }
        return Duration.ofNanos(negative ? -nanos : nanos);
    }

    /** An ASCII digit: {@link Character#isDigit} takes other scripts' digits too, which no config means. */
    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private static long unitNanos(String original, String unit) {
        return switch (unit) {
            case "ns" -> 1L;
            case "us", "µs", "μs" -> 1_000L;
            case "ms" -> 1_000_000L;
            case "s" -> 1_000_000_000L;
            case "m" -> 60_000_000_000L;
            case "h" -> 3_600_000_000_000L;
            default -> throw bad(original, "unknown unit '" + unit + "' (expected: ns, us, µs, ms, s, m, h)");
        };
    }

    /** Formats like Go's {@code Duration.String()}: {@code "5µs"}, {@code "50ms"}, {@code "1m30s"}. */
    public static String format(Duration d) {
        if (d.isZero()) {
            return "0s";
        }
        if (d.isNegative()) {
            return "-" + format(d.negated());
        }
        long nanos;
        try {
            nanos = d.toNanos();
        } catch (ArithmeticException e) {
            return d.toString();
        }
        if (nanos < 1_000) {
            return nanos + "ns";
        }
        if (nanos < 1_000_000) {
            return trim(BigDecimal.valueOf(nanos, 3)) + "µs";
        }
        if (nanos < 1_000_000_000) {
            return trim(BigDecimal.valueOf(nanos, 6)) + "ms";
        }
        long hours = nanos / 3_600_000_000_000L;
        long minutes = nanos / 60_000_000_000L % 60;
        BigDecimal seconds = BigDecimal.valueOf(nanos % 60_000_000_000L, 9);
        StringBuilder sb = new StringBuilder();
        if (hours > 0) {
            sb.append(hours).append('h');
        }
        if (hours > 0 || minutes > 0) {
            sb.append(minutes).append('m');
        }
        return sb.append(trim(seconds)).append('s').toString();
    }

    private static String trim(BigDecimal value) {
        BigDecimal stripped = value.stripTrailingZeros();
        return stripped.scale() < 0 ? stripped.setScale(0).toPlainString() : stripped.toPlainString();
    }

    private static IllegalArgumentException bad(String text, String why) {
        return new IllegalArgumentException("duration: \"" + text + "\" (" + why
                + "; expected: Go form like \"50ms\", \"5µs\", \"1m30s\" or ISO-8601 like \"PT0.05S\")");
    }
}
