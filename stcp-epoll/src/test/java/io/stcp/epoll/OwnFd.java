package io.stcp.epoll;

import io.stcp.Connection;
import io.stcp.internal.ConnectionChannel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * The descriptor this module works on for a connection: its own duplicate of the channel's, which
 * its registration's token carries ({@link Registrations}, "Descriptors"). Found as the kernel lists
 * them: the other descriptor of this process naming the channel's socket.
 */
final class OwnFd {
    private OwnFd() {}

    static int of(Connection connection) throws IOException {
        int channelFd = Fds.of(((ConnectionChannel) connection.channel()).jdkChannel());
        Path fds = Path.of("/proc/self/fd");
        String socket = Files.readSymbolicLink(fds.resolve(Integer.toString(channelFd))).toString();
        List<Integer> others;
        try (Stream<Path> all = Files.list(fds)) {
            others = all.filter(fd -> !fd.getFileName().toString().equals(Integer.toString(channelFd)))
                    .filter(fd -> socket.equals(link(fd)))
                    .map(fd -> Integer.parseInt(fd.getFileName().toString()))
                    .toList();
        }
        if (others.size() != 1) {
            throw new IllegalStateException("descriptors of " + socket + " besides the channel's " + channelFd + ": " + others);
        }
        return others.get(0);
    }

    private static String link(Path fd) {
        try {
            return Files.readSymbolicLink(fd).toString();
        } catch (IOException e) {
            return ""; // closed meanwhile (the listing's own descriptor)
        }
    }
}
