package io.stcp.epoll;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * {@link PollerFds}: a dead loop's descriptors are closed by the last use to end, never while a use
 * is held, and no use is granted once closing.
 */
class PollerFdsTest {

    @Test
    void theDescriptorsStayOpenWhileAUseIsHeldAndTheLastUseClosesThem() throws IOException {
        PollerFds fds = PollerFds.open(); // the opener's use
        assertThat(fds.acquire()).as("a call's use").isTrue();
        fds.release(); // the opener's
        assertThat(link(fds.epfd())).isEqualTo("anon_inode:[eventpoll]");

        fds.close();
        assertThat(fds.acquire()).as("no use once closing").isFalse();
        assertThat(link(fds.epfd())).as("open while the call's use is held").isEqualTo("anon_inode:[eventpoll]");
        assertThat(link(fds.wakeFd(0))).isEqualTo("anon_inode:[eventpoll]");
        assertThat(link(fds.wakeFd(1))).isEqualTo("anon_inode:[eventpoll]");

        fds.release(); // the call's: the last
        for (int fd : new int[] {fds.epfd(), fds.wakeFd(0), fds.wakeFd(1)}) {
            String now = link(fd);
            assertThat(now).as("closed (or the number taken by a file opened since)").isNotEqualTo("anon_inode:[eventpoll]");
        }
        fds.close(); // once only: nothing more happens
    }

    @Test
    void closingWithNoUseLeftClosesAtOnce() throws IOException {
        PollerFds fds = PollerFds.open();
        fds.release();
        fds.close();
        assertThat(link(fds.epfd())).isNotEqualTo("anon_inode:[eventpoll]");
    }

    /** What the descriptor {@code fd} of this process is, or "" if none. */
    private static String link(int fd) throws IOException {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
        } catch (NoSuchFileException e) {
            return "";
        }
    }
}
