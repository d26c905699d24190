package io.stcp;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * A class path whose slf4j-api is 1.7 (a build that picked it from another dependency): stcp's
 * every log line uses SLF4J 2's fluent API, so a server's {@code start()} and a client's fail at
 * once with an {@link IllegalStateException} that names the jar and the fix. They failed with
 * {@code NoSuchMethodError: 'org.slf4j.spi.LoggingEventBuilder org.slf4j.Logger.atInfo()'}, the
 * server's once it was bound and accepting. The 1.7 jar is copied next to stcp-core's classes by
 * the build (stcp-core's pom); stcp runs in a class loader of its own with it.
 */
class Slf4jVersionTest {

    @Test
    void startFailsSayingWhichSlf4jIsFoundAndHowToFixIt() throws Exception {
        Path core = Path.of(TcpServer.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path slf4j17 = core.getParent().resolve("slf4j-1.7/slf4j-api-1.7.36.jar");
        Assumptions.assumeTrue(Files.isRegularFile(slf4j17), "built by stcp-core's pom: " + slf4j17);
        try (URLClassLoader loader = new URLClassLoader(new URL[] {core.toUri().toURL(), slf4j17.toUri().toURL()},
                ClassLoader.getPlatformClassLoader())) {
            Class<?> config = loader.loadClass("io.stcp.ServerConfig");
            Object builder = config.getMethod("builder").invoke(null);
            builder.getClass().getMethod("address", String.class).invoke(builder, "127.0.0.1:0");
            Object serverConfig = builder.getClass().getMethod("build").invoke(builder);
            Class<?> readerType = loader.loadClass("io.stcp.ConnectionReader");
            Object reader = Proxy.newProxyInstance(loader, new Class<?>[] {readerType}, (p, m, a) -> {
                throw new AssertionError("no connection is expected");
            });
            Class<?> factoryType = loader.loadClass("io.stcp.SenderFactory");
            Object factory = factoryType.getMethod("queue", int.class).invoke(null, 8);
            Class<?> serverType = loader.loadClass("io.stcp.TcpServer");
            Object server = serverType.getMethod("create", config, readerType, factoryType)
                    .invoke(null, serverConfig, reader, factory);

            assertThatThrownBy(() -> call(serverType.getMethod("start"), server))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("slf4j-api 1.7.36")
                    .hasMessageContaining(slf4j17.getFileName().toString())
                    .hasMessageContaining("pin org.slf4j:slf4j-api to 2.0.x");
            assertThatThrownBy(() -> serverType.getMethod("address").invoke(server))
                    .as("nothing was bound").hasCauseInstanceOf(IllegalStateException.class);

            Class<?> clientConfigType = loader.loadClass("io.stcp.ClientConfig");
            Object clientBuilder = clientConfigType.getMethod("builder", String.class).invoke(null, "127.0.0.1:9");
            Object clientConfig = clientBuilder.getClass().getMethod("build").invoke(clientBuilder);
            Class<?> clientType = loader.loadClass("io.stcp.TcpClient");
            Object client = clientType.getMethod("create", clientConfigType, readerType, factoryType)
                    .invoke(null, clientConfig, reader, factory);
            assertThatThrownBy(() -> call(clientType.getMethod("start"), client))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("slf4j-api 1.7.36");
        }
    }

    /** Invokes {@code m} on {@code target}, throwing what it threw. */
    private static Object call(Method m, Object target) throws Throwable {
        try {
            return m.invoke(target);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
