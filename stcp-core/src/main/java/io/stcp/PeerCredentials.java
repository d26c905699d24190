package io.stcp;

import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.UserPrincipal;

/**
 * Who is at the other end of a Unix domain socket, as the kernel tells it ({@code SO_PEERCRED}):
 * the user and group the peer process ran as when it connected. See
 * {@link Connection#peerCredentials()}.
 *
 * <p>The JDK exposes the user and group only (their names, or the numeric id as text when the
 * system has no name for it), not the peer's process id.
 *
 * @param user the peer's effective user
 * @param group the peer's effective group
 */
public record PeerCredentials(UserPrincipal user, GroupPrincipal group) {
}
