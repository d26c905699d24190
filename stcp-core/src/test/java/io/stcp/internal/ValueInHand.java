package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

/** What a large value read costs the inbound budget while its reader holds it (ConnectionInput, "A value in hand"). */
final class ValueInHand {
    private ValueInHand() {}

    /**
     * Asserts that a value of {@code length} bytes just read from {@code input} is charged to
     * {@code budget} (beside {@code others}) with its bytes beyond a read buffer's worth, gives it
     * up as the reader's next read would, and asserts that the charge went with it. On the thread
     * that read it, or one that joined it.
     */
    static void assertChargedUntilGivenUp(InboundBudget budget, ConnectionInput input, long others, long length) {
        assertThat(budget.usedBytes()).as("the value read, charged while its reader holds it")
                .isEqualTo(others + Math.max(0, length - ConnectionInput.BUFFER_SIZE));
        input.giveUp();
        assertThat(budget.usedBytes()).as("given up").isEqualTo(others);
    }
}
