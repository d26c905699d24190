package io.stcp.bench;

import io.stcp.QueueSender;
import io.stcp.bench.jmh.NullConnection;
import io.stcp.internal.RealConnectionRegistry;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Heap per registry entry, measured: live heap (after full GCs) before and after each step, over
 * {@code --connections} connections without sockets ({@link NullConnection}), so the figures are
 * the registry's own — not the connections', the senders' or the names' (created beforehand).
 */
@Command(name = "registry-memory", mixinStandardHelpOptions = true,
        description = "Heap per registered connection, per user binding and per group membership.")
final class RegistryMemoryCommand implements Callable<Integer> {

    @Option(names = "--connections", defaultValue = "200000", description = "Connections (default: ${DEFAULT-VALUE}).")
    int connections;

    @Option(names = "--groups", defaultValue = "100", description = "Groups for the shared-groups step (default: ${DEFAULT-VALUE}).")
    int groups;

    @Override
    public Integer call() {
        int n = connections;
        QueueSender[] senders = new QueueSender[n];
        String[] users = new String[n];
        String[] ownGroups = new String[n];
        String[] shared = new String[groups];
        String[] parties = new String[n / 5 + 1];
        for (int i = 0; i < parties.length; i++) {
            parties[i] = "party-" + i;
        }
        for (int i = 0; i < n; i++) {
            senders[i] = QueueSender.options().build(new NullConnection(i));
            users[i] = "user-" + i;
            ownGroups[i] = "solo-" + i;
        }
        for (int g = 0; g < groups; g++) {
            shared[g] = "room-" + g;
        }
        RealConnectionRegistry registry = new RealConnectionRegistry();
        System.out.printf("%,d connections, %d shared groups; bytes of live heap per entry:%n%n", n, groups);
        System.out.println("| step | bytes per entry |");
        System.out.println("|---|---|");

        long before = liveHeap();
        for (QueueSender s : senders) {
            registry.add(s);
        }
        before = report("registered connection", before, n);
        for (int i = 0; i < n; i++) {
            registry.bindUser(senders[i], users[i]);
        }
        before = report("user binding (one connection per user)", before, n);
        for (int i = 0; i < n; i++) {
            registry.unbindUser(senders[i]);
        }
        before = liveHeap();
        for (int i = 0; i < n; i++) {
            registry.bindUser(senders[i], users[i / 2]);
        }
        before = report("user binding (two connections per user)", before, n);
        for (int i = 0; i < n; i++) {
            registry.joinGroup(senders[i], shared[i % groups]);
        }
        before = report("first group membership (" + (n / groups) + " members per group)", before, n);
        for (int i = 0; i < n; i++) {
            registry.joinGroup(senders[i], shared[(i + 1) % groups]);
        }
        before = report("second group membership", before, n);
        for (int i = 0; i < n; i++) {
            registry.joinGroup(senders[i], ownGroups[i]);
        }
        before = report("membership of a one-member group (third group)", before, n);
        for (int i = 0; i < n; i++) {
            registry.joinGroup(senders[i], parties[i / 5]);
        }
        report("membership of a five-member group (fourth group)", before, n);
        for (int i = 0; i < n; i++) {
            registry.remove(senders[i].connection().id());
        }
        System.out.printf("%nafter every connection is removed: %d users, %d groups, %d connections%n",
                registry.users().size(), registry.groups().size(), registry.connectionCount());
        java.lang.ref.Reference.reachabilityFence(senders);
        java.lang.ref.Reference.reachabilityFence(users);
        java.lang.ref.Reference.reachabilityFence(ownGroups);
        java.lang.ref.Reference.reachabilityFence(parties);
        return 0;
    }

    private static long report(String step, long before, int n) {
        long after = liveHeap();
        double per = (after - before) / (double) n;
        System.out.printf("| %s | %.1f |%n", step, per);
        return after;
    }

    /** Used heap after full collections, settled. */
    private static long liveHeap() {
        Runtime rt = Runtime.getRuntime();
        long used = Long.MAX_VALUE;
        for (int i = 0; i < 5; i++) {
            System.gc();
            used = Math.min(used, rt.totalMemory() - rt.freeMemory());
        }
        return used;
    }
}
