package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * A class path whose slf4j-api is 1.7 (a build that picked it from another dependency): stcp's
 * every log line uses SLF4J 2's fluent API, so a server's {@code start()} and a client's fail at
 * once with an {@link IllegalStateException} that names the jar and the fix. They failed with
 * {@code NoSuchMethodError: 'org.slf4j.spi.LoggingEventBuilder org.slf4j.Logger.atInfo()'}, the
 * server's once it was bound and accepting. And a server or a client that never started closes
 * quietly: its close threw that error from its stop line. The 1.7 jar is copied next to
 * stcp-core's classes by the build (stcp-core's pom); stcp runs in a class loader of its own with it.
 */
class Slf4jVersionTest {

    @Test
    void startFailsSayingWhichSlf4jIsFoundAndHowToFixIt() throws Exception {
        try (Slf4j17 stcp = Slf4j17.load()) {
            Object server = stcp.server();
            assertThatThrownBy(() -> call(stcp.serverType.getMethod("start"), server))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("slf4j-api 1.7.36")
                    .hasMessageContaining(stcp.jar.getFileName().toString())
                    .hasMessageContaining("pin org.slf4j:slf4j-api to 2.0.x");
            assertThatThrownBy(() -> stcp.serverType.getMethod("address").invoke(server))
                    .as("nothing was bound").hasCauseInstanceOf(IllegalStateException.class);

            Object client = stcp.client();
            assertThatThrownBy(() -> call(stcp.clientType.getMethod("start"), client))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("slf4j-api 1.7.36");
        }
    }

    @Test
    void aServerOrClientThatNeverStartedClosesQuietly() throws Throwable {
        try (Slf4j17 stcp = Slf4j17.load()) {
            Object server = stcp.server();
            call(stcp.serverType.getMethod("close"), server);
            assertThat(call(stcp.serverType.getMethod("awaitTermination", Duration.class), server, Duration.ofSeconds(5)))
                    .as("terminated").isEqualTo(true);

            Object refused = stcp.server();
            assertThatThrownBy(() -> call(stcp.serverType.getMethod("start"), refused))
                    .isInstanceOf(IllegalStateException.class);
            call(stcp.serverType.getMethod("close"), refused);
            Object shutDown = stcp.server();
            assertThat(call(stcp.serverType.getMethod("shutdown", Duration.class), shutDown, Duration.ofSeconds(5)))
                    .as("drained").isEqualTo(true);

            Object client = stcp.client();
            call(stcp.clientType.getMethod("close"), client);
            assertThat(call(stcp.clientType.getMethod("awaitTermination", Duration.class), client, Duration.ofSeconds(5)))
                    .as("terminated").isEqualTo(true);
            Object clientShutDown = stcp.client();
            assertThat(call(stcp.clientType.getMethod("shutdown", Duration.class), clientShutDown, Duration.ofSeconds(5)))
                    .as("nothing was lost").isEqualTo(true);
        }
    }

    /** stcp-core's classes with slf4j-api 1.7 in a class loader of their own. */
    private static final class Slf4j17 implements AutoCloseable {
        final Path jar;
        final URLClassLoader loader;
        final Class<?> serverType;
        final Class<?> clientType;
        private final Class<?> readerType;
        private final Class<?> factoryType;
        private final Object reader;
        private final Object factory;

        private Slf4j17(Path jar, URLClassLoader loader) throws ReflectiveOperationException {
            this.jar = jar;
            this.loader = loader;
            serverType = loader.loadClass("io.stcp.TcpServer");
            clientType = loader.loadClass("io.stcp.TcpClient");
            readerType = loader.loadClass("io.stcp.ConnectionReader");
            factoryType = loader.loadClass("io.stcp.SenderFactory");
            reader = Proxy.newProxyInstance(loader, new Class<?>[] {readerType}, (p, m, a) -> {
                throw new AssertionError("no connection is expected");
            });
            factory = factoryType.getMethod("queue", int.class).invoke(null, 8);
        }

        static Slf4j17 load() throws Exception {
            Path core = Path.of(TcpServer.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path jar = core.getParent().resolve("slf4j-1.7/slf4j-api-1.7.36.jar");
            Assumptions.assumeTrue(Files.isRegularFile(jar), "built by stcp-core's pom: " + jar);
            return new Slf4j17(jar, new URLClassLoader(new URL[] {core.toUri().toURL(), jar.toUri().toURL()},
                    ClassLoader.getPlatformClassLoader()));
        }

        /** A server on 127.0.0.1:0, not started. */
        Object server() throws ReflectiveOperationException {
            Class<?> config = loader.loadClass("io.stcp.ServerConfig");
            Object builder = config.getMethod("builder").invoke(null);
            builder.getClass().getMethod("address", String.class).invoke(builder, "127.0.0.1:0");
            Object serverConfig = builder.getClass().getMethod("build").invoke(builder);
            return serverType.getMethod("create", config, readerType, factoryType).invoke(null, serverConfig, reader, factory);
        }

        /** A client of 127.0.0.1:9, not started. */
        Object client() throws ReflectiveOperationException {
            Class<?> config = loader.loadClass("io.stcp.ClientConfig");
            Object builder = config.getMethod("builder", String.class).invoke(null, "127.0.0.1:9");
            Object clientConfig = builder.getClass().getMethod("build").invoke(builder);
            return clientType.getMethod("create", config, readerType, factoryType).invoke(null, clientConfig, reader, factory);
        }

        @Override
        public void close() throws Exception {
            loader.close();
        }
    }

    /** Invokes {@code m} on {@code target}, throwing what it threw. */
    private static Object call(Method m, Object target, Object... args) throws Throwable {
        try {
            return m.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
