/**
 * A test kit for stcp readers and senders: {@link io.stcp.test.TestConnection} runs a
 * {@link io.stcp.ConnectionReader} the way a server does, against bytes fed from memory, and
 * collects what it writes. What Netty's {@code EmbeddedChannel} is to Netty.
 */
@NullMarked
package io.stcp.test;

import org.jspecify.annotations.NullMarked;
