package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.framing.DelimiterReader;
import io.stcp.framing.LengthFieldReader;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The defaults the README and the Javadoc state, as values: a constant changed without its
 * documentation fails here. ({@link ServerConfigTest} has the Go ones, {@code TlsConfigTest} and
 * {@code ClusterConfigTest} theirs.)
 */
class DocumentedDefaultsTest {

    /** README, "Timeouts" and "Behaviour you can rely on"; {@link ServerConfig}'s parameters. */
    @Test
    void serverConfig() {
        ServerConfig c = ServerConfig.builder().build();
        assertThat(c.tcpNoDelay()).isTrue();
        assertThat(c.readIdleTimeout()).isZero();
        assertThat(c.firstFrameTimeout()).isZero();
        assertThat(c.frameTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(c.inboundBudget()).as("0: an eighth of the heap").isZero();
        assertThat(c.effectiveInboundBudget()).isEqualTo(Math.max(1L << 20, Runtime.getRuntime().maxMemory() / 8));
        assertThat(c.outboundBudget()).as("0: a sixteenth of the heap").isZero();
        assertThat(c.effectiveOutboundBudget()).isEqualTo(Math.max(1L << 20, Runtime.getRuntime().maxMemory() / 16));
        assertThat(c.backlog()).as("0: the OS maximum").isZero();
        assertThat(c.proxyProtocol().mode()).isEqualTo(ProxyProtocol.Mode.OFF);
        assertThat(c.ipLimits()).isEqualTo(IpLimits.none());
        assertThat(c.reusePort()).isFalse();
        assertThat(c.unixSocketPermissions()).isEmpty();
        assertThat(c.tls()).isNull();
    }

    /** README, "A client that reconnects"; {@link ClientConfig}'s parameters. */
    @Test
    void clientConfig() {
        ClientConfig c = ClientConfig.builder("127.0.0.1:9000").build();
        assertThat(c.connectTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(c.connectionAttemptDelay()).isEqualTo(Duration.ofMillis(250));
        assertThat(ClientConfig.MIN_CONNECTION_ATTEMPT_DELAY).isEqualTo(Duration.ofMillis(10));
        assertThat(c.localAddress()).isNull();
        assertThat(c.writeTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(c.readIdleTimeout()).isZero();
        assertThat(c.frameTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(c.inboundBudget()).as("0: a quarter of the heap").isZero();
        assertThat(c.effectiveInboundBudget()).isEqualTo(Math.max(1L << 20, Runtime.getRuntime().maxMemory() / 4));
        assertThat(c.tcpNoDelay()).isTrue();
        assertThat(c.reconnectDelay()).isEqualTo(Duration.ofMillis(100));
        assertThat(c.reconnectMultiplier()).isEqualTo(2.0);
        assertThat(c.reconnectMaxDelay()).isEqualTo(Duration.ofSeconds(30));
        assertThat(c.reconnectJitter()).isEqualTo(0.2);
        assertThat(ClientConfig.MIN_RECONNECT_DELAY).isEqualTo(Duration.ofMillis(1));
        assertThat(c.maxAttempts()).as("0: never give up").isZero();
        assertThat(c.offlineCapacity()).as("0: puts fail while not connected").isZero();
        assertThat(c.offlineMaxBytes()).isEqualTo(4L << 20);
        assertThat(c.tls()).isNull();
    }

    /** README, "Senders": 1024 messages and 4 MiB per connection. */
    @Test
    void queueSenderOptions() {
        assertThat(QueueSender.Options.DEFAULT_CAPACITY).isEqualTo(1024);
        assertThat(QueueSender.Options.DEFAULT_MAX_BYTES).isEqualTo(4L << 20);
    }

    /** README, "PROXY protocol", Bounds: 5 s for the header, 4096 bytes of a version 2 header. */
    @Test
    void proxyProtocol() {
        ProxyProtocol p = ProxyProtocol.required("10.0.0.0/8");
        assertThat(p.headerTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(p.maxHeaderLength()).isEqualTo(4096);
        assertThat(ProxyProtocol.optional("10.0.0.0/8").headerTimeout()).isEqualTo(Duration.ofSeconds(5));
    }

    /** README, "Limits per client address": every limit off, a table of 65536 addresses. */
    @Test
    void ipLimits() {
        IpLimits l = IpLimits.builder().build();
        assertThat(l.maxConnPerIp()).isZero();
        assertThat(l.connectionsPerSecondPerIp()).isZero();
        assertThat(l.burstPerIp()).isZero();
        assertThat(l.allow()).isEmpty();
        assertThat(l.deny()).isEmpty();
        assertThat(l.maxTrackedIps()).isEqualTo(65536);
    }

    /** The framing readers' Javadoc (and README, "A client that reconnects"): 1 MiB frames, 8192-byte lines. */
    @Test
    void framingLimits() {
        assertThat(LengthFieldReader.DEFAULT_MAX_FRAME_LENGTH).isEqualTo(1 << 20);
        assertThat(DelimiterReader.DEFAULT_MAX_LENGTH).isEqualTo(8192);
    }
}
