package io.stcp.epoll;

/**
 * The two JVM flags the epoll transport needs, {@code --enable-native-access} (its system calls)
 * and {@code --add-exports java.base/sun.nio.ch} (a socket's descriptor, {@link Fds}): which of
 * them this JVM lacks, all named at once, so that a user who adds the one named does not meet the
 * other only at the next start.
 */
final class JvmFlags {
    private JvmFlags() {}

    /** Why this JVM's flags keep {@code module} from the transport, naming every flag missing; null if none is. */
    static String missing(Module module) {
        return missing(module.toString(), module.isNamed() ? module.getName() : "ALL-UNNAMED",
                module.isNativeAccessEnabled(), Object.class.getModule().isExported("sun.nio.ch", module));
    }

    /**
     * As {@link #missing(Module)}, for {@code module} as logs write it, and {@code target}, what the
     * flags name: {@code ALL-UNNAMED} on the class path, the module's name on the module path.
     */
    static String missing(String module, String target, boolean nativeAccess, boolean exported) {
        if (nativeAccess && exported) {
            return null;
        }
        String noAccess = "native access is not enabled for " + module;
        String noExport = "java.base does not export sun.nio.ch to " + module;
        String enable = "--enable-native-access=" + target;
        String export = "--add-exports java.base/sun.nio.ch=" + target;
        if (!nativeAccess && !exported) {
            return noAccess + ", and " + noExport + " (run with " + enable + " " + export + ")";
        }
        return nativeAccess ? noExport + " (run with " + export + ")" : noAccess + " (run with " + enable + ")";
    }
}
