package io.stcp.bench;

/**
 * One load of a comparison: {@code connections} connections, each keeping {@code inFlight} frames
 * of {@code size} bytes (the 4-byte header included) outstanding.
 *
 * <p>Written {@code CONNECTIONSxIN_FLIGHT[@SIZE]}: {@code 100x16} (the default frame size),
 * {@code 100x4@16384}, {@code 100x1@1048576}. The label is the text as given, trimmed.
 *
 * @param label       the load as written, used in tables and file names
 * @param connections at least 1
 * @param inFlight    at least 1
 * @param size        {@value #MIN_SIZE}..{@value #MAX_SIZE} bytes (a 1 MiB body and its header)
 */
record Load(String label, int connections, int inFlight, int size) {
    /** The smallest frame both generators send: a header and an 8-byte send time. */
    static final int MIN_SIZE = 12;
    /** The largest frame: a 1 MiB body and its header, the limit of every server in the rig. */
    static final int MAX_SIZE = (1 << 20) + 4;

    Load {
        if (connections < 1 || inFlight < 1) {
            throw new IllegalArgumentException("load: \"" + label + "\" (expected: positive numbers, e.g. 100x16)");
        }
        if (size < MIN_SIZE || size > MAX_SIZE) {
            throw new IllegalArgumentException("load: \"" + label + "\": frame size " + size + " (expected: "
                    + MIN_SIZE + ".." + MAX_SIZE + ")");
        }
    }

    /** Parses {@code 100x16} (frames of {@code defaultSize} bytes) or {@code 100x16@16384}. */
    static Load parse(String spec, int defaultSize) {
        String s = spec.trim();
        String[] atSize = s.toLowerCase(java.util.Locale.ROOT).split("@", -1);
        String[] parts = atSize[0].split("x", -1);
        if (atSize.length > 2 || parts.length != 2) {
            throw new IllegalArgumentException("load: \"" + spec
                    + "\" (expected: CONNECTIONSxIN_FLIGHT[@FRAME_SIZE], e.g. 100x16 or 100x4@16384)");
        }
        try {
            return new Load(s, Integer.parseInt(parts[0]), Integer.parseInt(parts[1]),
                    atSize.length == 2 ? Integer.parseInt(atSize[1]) : defaultSize);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("load: \"" + spec + "\" (expected: positive numbers, e.g. 100x16)");
        }
    }
}
