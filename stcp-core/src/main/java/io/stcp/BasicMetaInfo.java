package io.stcp;

import java.util.Objects;

/**
 * The default {@link MetaInfo}: just the peer's address (Go: {@code BasicMetaInfo}).
 *
 * @param remoteAddress the peer's address as text
 */
public record BasicMetaInfo(String remoteAddress) implements MetaInfo {
    /** Rejects a null address. */
    public BasicMetaInfo {
        Objects.requireNonNull(remoteAddress, "remoteAddress");
    }
}
