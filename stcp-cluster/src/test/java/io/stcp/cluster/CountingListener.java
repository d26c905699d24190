package io.stcp.cluster;

import java.util.concurrent.atomic.AtomicInteger;

/** A bus listener that counts the subscriptions made and lost, and drops the messages. */
class CountingListener implements ClusterBus.Listener {
    final AtomicInteger connects = new AtomicInteger();
    final AtomicInteger disconnects = new AtomicInteger();

    @Override
    public void onMessage(byte[] message) {
    }

    @Override
    public void onConnected() {
        connects.incrementAndGet();
    }

    @Override
    public void onDisconnected(String reason) {
        disconnects.incrementAndGet();
    }
}
