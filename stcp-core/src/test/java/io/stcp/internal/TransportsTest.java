package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class TransportsTest {

    @Test
    void jdkNeverLooksForANativeTransport() {
        Transports.Choice c = Transports.choose("jdk");
        assertThat(c.source()).isNull();
        assertThat(c.error()).isNull();
    }

    @Test
    void anUnknownTransportIsAClearErrorNotASilentFallback() {
        Transports.Choice c = Transports.choose("io_uring");
        assertThat(c.source()).isNull();
        assertThat(c.error()).startsWith("io.stcp.transport=io_uring but that transport is not available");
    }
}
