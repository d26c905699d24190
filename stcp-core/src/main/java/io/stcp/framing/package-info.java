/**
 * Ready-made connection readers that deliver whole frames — {@link io.stcp.framing.LengthFieldReader},
 * {@link io.stcp.framing.DelimiterReader}, {@link io.stcp.framing.FixedLengthReader} — and the
 * matching encoders. Oversized or corrupt input fails only the connection it came from, with a
 * {@link io.stcp.framing.FrameTooLongException} or {@link io.stcp.framing.CorruptFrameException}.
 */
package io.stcp.framing;
