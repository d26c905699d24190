package io.stcp.internal;

import io.stcp.PeerCredentials;
import java.io.IOException;
import java.net.BindException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Unix domain sockets: listening on a path, removing the file again, and the peer's credentials.
 *
 * <p><b>The socket file.</b> Binding creates the file; it outlives a process that dies without
 * closing. So before binding, an existing file at the path is probed: if it is not a socket it is
 * left alone and the bind fails; if a connect to it is refused, it is a stale file from a dead
 * server and is removed; if the connect succeeds, a server is listening there and the bind fails
 * (the probe is an empty connection that server sees; it does not wait, so a server whose accept
 * queue is full fails the bind too) — unless {@code replace} is asked
 * ({@code reusePort}), which takes the path over from the live server: the new socket is renamed
 * over the old file in one step, so every client that connects afterwards reaches the new server
 * while the old one goes on serving the connections it has.
 *
 * <p>With permissions, or when replacing, the socket is bound in a fresh private directory next to
 * the path (mode {@code rwx------}), given its permissions there, and then renamed to the path:
 * nobody can connect before the permissions are in place. On close the file is removed if it is
 * still the one this server created (same file key), so a server that was replaced does not
 * remove its successor's socket.
 */
final class UnixSockets {
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;
    private static final int STAGING_NAME = 3;      // 36^3 names
    private static final int STAGING_ATTEMPTS = 100; // names taken by other files in a row before giving up

    private UnixSockets() {}

    /** A listening Unix socket, the path clients use, and the file's identity. */
    record Listener(ServerSocketChannel channel, Path path, Object fileKey) {}

    /** Whether {@code channel} is a Unix domain socket (false if it is closed). */
    static boolean isUnix(SocketChannel channel) {
        try {
            return channel.getLocalAddress() instanceof UnixDomainSocketAddress;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Listens on {@code path}.
     *
     * @param permissions as {@code ls -l} shows them, or empty to leave them to the umask
     * @param replace take the path over from a live server instead of failing
     * @throws BindException if the path is taken (see the class comment) or cannot be bound
     */
    static Listener listen(Path path, int backlog, String permissions, boolean replace) throws IOException {
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            prepare(path, replace);
            if (permissions.isEmpty() && !replace) {
                ch.bind(UnixDomainSocketAddress.of(path), backlog);
            } else {
                Path dir = privateDirectory(path.getParent() == null ? Path.of("") : path.getParent());
                Path staged = dir.resolve("s");
                try {
                    ch.bind(UnixDomainSocketAddress.of(staged), backlog);
                    if (!permissions.isEmpty()) {
                        Files.setPosixFilePermissions(staged, PosixFilePermissions.fromString(permissions));
                    }
                    Files.move(staged, path, StandardCopyOption.ATOMIC_MOVE); // rename(2): replaces atomically
                } finally {
                    Files.deleteIfExists(staged);
                    Files.deleteIfExists(dir);
                }
            }
            return new Listener(ch, path, fileKey(path));
        } catch (IOException | RuntimeException e) {
            Quietly.close(ch, "listener");
            throw e;
        }
    }

    /**
     * A new directory in {@code parent}, {@code rwx------}, to bind a socket in before it is renamed
     * into place. Its name is short ({@code .} and 3 random characters), so the
     * socket's path there ({@code parent/.abc/s}) is no longer than the path it is renamed to for a
     * file name of 6 characters or more, whatever the length of {@code parent}: a socket path is at
     * most 107 bytes, and one that fits must not fail because of the staging (a temporary
     * directory's usual 20-odd random digits did, with "Unix domain path too long").
     */
    private static Path privateDirectory(Path parent) throws IOException {
        FileAttribute<Set<PosixFilePermission>> ownerOnly =
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));
        String chars = "abcdefghijklmnopqrstuvwxyz0123456789";
        for (int attempt = 1; ; attempt++) {
            StringBuilder name = new StringBuilder(".");
            for (int i = 0; i < STAGING_NAME; i++) {
                name.append(chars.charAt(ThreadLocalRandom.current().nextInt(chars.length())));
            }
            try {
                return Files.createDirectory(parent.resolve(name.toString()), ownerOnly);
            } catch (FileAlreadyExistsException taken) {
                if (attempt == STAGING_ATTEMPTS) {
                    throw taken;
                }
            }
        }
    }

    /** Clears the way for a socket at {@code path}; see the class comment. */
    private static void prepare(Path path, boolean replace) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!isSocketFile(path)) {
            throw new FileAlreadyExistsException(path.toString(), null, "exists and is not a socket; not removing it");
        }
        if (replace) {
            return; // renamed over, live or not
        }
        if (!probe(path)) {
            Files.deleteIfExists(path); // nobody listens: left behind by a process that died
            return;
        }
        throw new BindException("a server is listening on " + path
                + " (stop it first, or set reusePort to take the path over)");
    }

    /**
     * Whether a server listens on the socket file at {@code path}: false if a connect is refused
     * (nobody listens), true if it connects. The connect does not wait: a blocking one to a server
     * whose accept queue is full (one that hangs, or is swamped) would wait until it accepts, for
     * good, and start() with it; such a server answers a non-blocking one at once (EAGAIN), which
     * fails the bind like any answer but a refusal, the file left alone.
     */
    private static boolean probe(Path path) throws IOException {
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.configureBlocking(false);
            try {
                probe.connect(UnixDomainSocketAddress.of(path)); // connected, or (not for a Unix socket) pending
            } catch (ConnectException refused) {
                return false;
            } catch (IOException e) {
                throw new BindException("a connect to " + path + " was not refused (" + e.getMessage() + "): a server"
                        + " may still own it, not removing it (stop it first, or set reusePort to take the path over)");
            }
            return true;
        }
    }

    private static boolean isSocketFile(Path path) throws IOException {
        try {
            int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            return (mode & S_IFMT) == S_IFSOCK;
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther();
        }
    }

    private static Object fileKey(Path path) throws IOException {
        return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
    }

    /** Removes the listener's file if it is still the one it created. Never throws. */
    static void removeFile(Listener listener) {
        try {
            Object key = fileKey(listener.path());
            if (key != null && key.equals(listener.fileKey())) {
                Files.deleteIfExists(listener.path());
            }
        } catch (IOException | RuntimeException e) {
            // gone already, or replaced and not ours to remove
        }
    }

    /** The peer's credentials, or null if the JDK or the OS cannot tell. */
    static PeerCredentials peerCredentials(SocketChannel channel) {
        try {
            jdk.net.UnixDomainPrincipal p = channel.getOption(jdk.net.ExtendedSocketOptions.SO_PEERCRED);
            return p == null ? null : new PeerCredentials(p.user(), p.group());
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
