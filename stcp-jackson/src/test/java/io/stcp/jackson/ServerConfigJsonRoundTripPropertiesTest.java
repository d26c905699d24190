package io.stcp.jackson;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.stcp.IpLimits;
import io.stcp.ProxyProtocol;
import io.stcp.ServerConfig;
import java.time.Duration;
import java.util.List;
import net.jqwik.api.Assume;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Positive;

/** Any config the builder accepts is written and read back equal, by {@link ServerConfigJson} and by the module. */
class ServerConfigJsonRoundTripPropertiesTest {
    private static final ObjectMapper MAPPER = new ObjectMapper().registerModule(ServerConfigJson.module());

    @Property(tries = 300)
    void anyConfigTheBuilderAcceptsRoundTrips(
            @ForAll @IntRange(min = 0, max = 65535) int port, @ForAll boolean ipv6,
            @ForAll @LongRange(min = 1, max = 1_000_000_000_000_000L) long acceptDelayNanos,
            @ForAll @LongRange(min = 0, max = 1_000_000_000_000_000L) long acceptMaxDelayExtraNanos,
            @ForAll @IntRange(min = 0) int acceptMaxRetry, @ForAll @IntRange(min = 0) int maxConn,
            @ForAll @LongRange(min = 0, max = Long.MAX_VALUE / 2) long writeTimeoutNanos, @ForAll boolean tcpNoDelay,
            @ForAll @LongRange(min = 0) long readIdleSeconds, @ForAll @IntRange(min = 0, max = 999_999_999) int readIdleNanos,
            @ForAll @LongRange(min = 0, max = 1_000_000_000_000L) long firstFrameMillis,
            @ForAll @LongRange(min = 0, max = 1_000_000_000_000L) long frameMicros,
            @ForAll @LongRange(min = 0) long inboundBudget, @ForAll @LongRange(min = 0) long outboundBudget,
            @ForAll @IntRange(min = 0) int backlog,
            @ForAll boolean proxy, @ForAll @LongRange(min = 0, max = 1_000_000_000_000L) long headerTimeoutNanos,
            @ForAll @IntRange(min = 232, max = 65551) int maxHeaderLength,
            @ForAll @IntRange(min = 0) int maxConnPerIp, @ForAll @Positive double rate, @ForAll boolean limitRate,
            @ForAll @IntRange(min = 0) int burstPerIp, @ForAll @IntRange(min = 1) int maxTrackedIps,
            @ForAll boolean reusePort) throws Exception {
        Assume.that(Double.isFinite(rate));
        ServerConfig c = ServerConfig.builder()
                .address((ipv6 ? "[::1]:" : "127.0.0.1:") + port)
                .acceptDelay(Duration.ofNanos(acceptDelayNanos))
                .acceptMaxDelay(Duration.ofNanos(acceptDelayNanos + acceptMaxDelayExtraNanos))
                .acceptMaxRetry(acceptMaxRetry).maxConn(maxConn)
                .writeTimeout(Duration.ofNanos(writeTimeoutNanos)).tcpNoDelay(tcpNoDelay)
                .readIdleTimeout(Duration.ofSeconds(readIdleSeconds, readIdleNanos))
                .firstFrameTimeout(Duration.ofMillis(firstFrameMillis)).frameTimeout(Duration.ofNanos(frameMicros * 1000))
                .inboundBudget(inboundBudget).outboundBudget(outboundBudget).backlog(backlog)
                .proxyProtocol(proxy
                        ? new ProxyProtocol(ProxyProtocol.Mode.OPTIONAL, List.of("10.0.0.0/8", "2001:db8::/32"),
                                Duration.ofNanos(headerTimeoutNanos), maxHeaderLength)
                        : ServerConfig.defaults().proxyProtocol())
                .ipLimits(IpLimits.builder().maxConnPerIp(maxConnPerIp).connectionsPerSecondPerIp(limitRate ? rate : 0)
                        .burstPerIp(limitRate ? burstPerIp : 0) // the two refine limits: refused while those are off
                        .maxTrackedIps(limitRate || maxConnPerIp > 0 ? maxTrackedIps : IpLimits.DEFAULT_MAX_TRACKED_IPS)
                        .deny(List.of("192.0.2.0/24")).build())
                .reusePort(reusePort)
                .build();
        assertThat(ServerConfigJson.read(ServerConfigJson.write(c))).isEqualTo(c);
        assertThat(MAPPER.readValue(MAPPER.writeValueAsString(c), ServerConfig.class)).isEqualTo(c);
    }
}
