package io.stcp.epoll;

import io.stcp.Connection;
import io.stcp.internal.ConnectionChannel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * The descriptor this module works on for a connection: its channel's own, which its
 * registration's token carries ({@link Registrations}, "Descriptors") — checked, as the kernel
 * lists them, to be the only descriptor of this process naming the channel's socket.
 */
final class ConnectionFd {
    private ConnectionFd() {}

    static int of(Connection connection) throws IOException {
        int channelFd = Fds.of(((ConnectionChannel) connection.channel()).jdkChannel());
        Path fds = Path.of("/proc/self/fd");
        String socket = Files.readSymbolicLink(fds.resolve(Integer.toString(channelFd))).toString();
        List<Integer> naming;
        try (Stream<Path> all = Files.list(fds)) {
            naming = all.filter(fd -> socket.equals(link(fd)))
                    .map(fd -> Integer.parseInt(fd.getFileName().toString()))
                    .toList();
        }
        if (!naming.equals(List.of(channelFd))) {
            throw new IllegalStateException("descriptors of " + socket + ": " + naming + ", expected the channel's " + channelFd
                    + " alone");
        }
        return channelFd;
    }

    private static String link(Path fd) {
        try {
            return Files.readSymbolicLink(fd).toString();
        } catch (IOException e) {
            return ""; // closed meanwhile (the listing's own descriptor)
        }
    }
}
