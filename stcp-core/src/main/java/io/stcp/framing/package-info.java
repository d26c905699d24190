/**
 * Ready-made connection readers that deliver whole frames (length-field, delimiter, fixed length)
 * and the matching encoders.
 */
package io.stcp.framing;
