/**
 * Ready-made connection readers that deliver whole frames — {@link io.stcp.framing.LengthFieldReader},
 * {@link io.stcp.framing.DelimiterReader}, {@link io.stcp.framing.FixedLengthReader} — and the
 * matching encoders. Oversized or corrupt input fails only the connection it came from, with a
 * {@link io.stcp.framing.FrameTooLongException} or {@link io.stcp.framing.CorruptFrameException}.
 *
 * <p>Everything in this package is {@link org.jspecify.annotations.NullMarked null-marked}: no
 * parameter or return value is null unless it is annotated {@code @Nullable}.
 */
@NullMarked
package io.stcp.framing;

import org.jspecify.annotations.NullMarked;
