package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** {@link ConnectionHook#andThen}: both hooks run, and no failure is lost. */
class ConnectionHookTest {
    private final List<String> ran = new CopyOnWriteArrayList<>();

    private ConnectionHook hook(String name, Exception failure) {
        return sender -> {
            ran.add(name);
            if (failure != null) {
                throw failure;
            }
        };
    }

    @Test
    void andThenRunsBothHooksInOrder() throws Exception {
        hook("first", null).andThen(hook("second", null)).onEvent(null);
        assertThat(ran).containsExactly("first", "second");
    }

    @Test
    void whenBothHooksThrowTheFirstFailureIsRethrownWithTheSecondSuppressed() {
        IOException first = new IOException("first fails");
        IllegalStateException second = new IllegalStateException("second fails");
        assertThatThrownBy(() -> hook("first", first).andThen(hook("second", second)).onEvent(null))
                .isSameAs(first)
                .satisfies(t -> assertThat(t.getSuppressed()).containsExactly(second));
        assertThat(ran).containsExactly("first", "second");
    }

    @Test
    void whenOnlyTheFirstHookThrowsTheSecondStillRunsAndTheFailureIsRethrown() {
        IllegalStateException first = new IllegalStateException("first fails");
        assertThatThrownBy(() -> hook("first", first).andThen(hook("second", null)).onEvent(null))
                .isSameAs(first)
                .satisfies(t -> assertThat(t.getSuppressed()).isEmpty());
        assertThat(ran).containsExactly("first", "second");
    }

    @Test
    void whenOnlyTheSecondHookThrowsItsFailureIsThrown() {
        IOException second = new IOException("second fails");
        assertThatThrownBy(() -> hook("first", null).andThen(hook("second", second)).onEvent(null)).isSameAs(second);
        assertThat(ran).containsExactly("first", "second");
    }
}
