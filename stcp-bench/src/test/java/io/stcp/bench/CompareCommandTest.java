package io.stcp.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The command lines compare starts its servers with. */
class CompareCommandTest {

    /** A variant named as the user likes is stcp's echo from its jar: it used to be taken for Netty's and fail. */
    @Test
    void aVariantWhoseNameDoesNotStartWithStcpRunsStcpsEcho() {
        CompareCommand compare = new CompareCommand();
        new CommandLine(compare).parseArgs("--stcp-variant", "base=@/jars/old-examples.jar --read-idle-timeout 0s");
        List<String> cmd = compare.serverCommand("base", "127.0.0.1:9000", Load.parse("100x1", 64), 0);
        assertThat(String.join(" ", cmd)).endsWith("-jar /jars/old-examples.jar echo --addr 127.0.0.1:9000"
                + " --read-idle-timeout 0s");
    }

    @Test
    void nettysEchoIsRunForNettysNamesOnly() {
        CompareCommand compare = new CompareCommand();
        new CommandLine(compare).parseArgs();
        List<String> cmd = compare.serverCommand("netty-epoll", "127.0.0.1:9000", Load.parse("100x1", 64), 0);
        assertThat(cmd).contains("netty-echo", "--transport", "epoll");
        assertThat(String.join(" ", cmd)).as("an idle timeout, as stcp's echo has").contains("--read-idle-seconds 300");
    }
}
