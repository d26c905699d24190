package io.stcp.epoll;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.internal.Readiness;
import org.junit.jupiter.api.Test;

/** The poller's table of registered sockets, by descriptor, and its tokens. */
class RegistrationsTest {

    @Test
    void anEventFindsTheSocketItsTokenNames() {
        Registrations table = new Registrations(null);
        Readiness a = table.add(7);
        Readiness b = table.add(8);
        assertThat(table.find(a.token())).isSameAs(a);
        assertThat(table.find(b.token())).isSameAs(b);
        assertThat(table.size()).isEqualTo(2);
        table.deregister(a); // what the Readiness does when it closes
        assertThat(table.find(a.token())).isNull();
        assertThat(table.find(b.token())).isSameAs(b);
        assertThat(table.size()).isEqualTo(1);
    }

    @Test
    void anEventForTheOldSocketOfAReusedDescriptorFindsNothing() {
        Registrations table = new Registrations(null);
        Readiness old = table.add(5);
        Readiness reused = table.add(5); // the old socket was closed and its descriptor reused
        assertThat(reused.token()).isNotEqualTo(old.token());
        assertThat(table.find(old.token())).isNull();
        assertThat(table.find(reused.token())).isSameAs(reused);

        table.deregister(old); // late: the newer socket keeps the slot
        assertThat(table.find(reused.token())).isSameAs(reused);
        assertThat(table.size()).isEqualTo(1);
        table.deregister(reused);
        assertThat(table.size()).isZero();
    }

    @Test
    void theTableGrowsForLargeDescriptorsAndKeepsWhatItHeld() {
        Registrations table = new Registrations(null);
        Readiness low = table.add(3);
        Readiness high = table.add(100_000);
        Readiness higher = table.add(300_000);
        assertThat(table.find(low.token())).isSameAs(low);
        assertThat(table.find(high.token())).isSameAs(high);
        assertThat(table.find(higher.token())).isSameAs(higher);
        assertThat(table.find((long) 1 << 32 | 2_000_000)).isNull(); // beyond the table
        assertThat(table.size()).isEqualTo(3);
    }
}
