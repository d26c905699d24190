package io.stcp.internal;

import io.stcp.ClientConfig;
import io.stcp.SenderFactory;
import io.stcp.TcpClient;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import jdk.jfr.EventType;
import jdk.jfr.FlightRecorder;

/**
 * Run by {@link FlightRecorderEventsTest} in a JVM of its own, where no stcp event type is
 * registered yet: prints whether {@code stcp.ConnectionStart} is registered before a server
 * ({@code server}) or a client ({@code client}, of a port nobody listens on) starts and after its
 * {@code start()} returned, with no connection made.
 */
public final class JfrRegistrationProbe {
    private JfrRegistrationProbe() {}

    public static void main(String[] args) throws Exception {
        System.out.println("before=" + registered());
        if (args[0].equals("server")) {
            try (TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(4)).start()) {
                System.out.println("after=" + registered());
            }
        } else {
            try (TcpClient client = TcpClient.create(ClientConfig.builder("127.0.0.1:1").build(), Echo.READER,
                    SenderFactory.queue(4)).start()) {
                System.out.println("after=" + registered());
            }
        }
    }

    private static boolean registered() {
        return FlightRecorder.getFlightRecorder().getEventTypes().stream().map(EventType::getName)
                .anyMatch("stcp.ConnectionStart"::equals);
    }
}
