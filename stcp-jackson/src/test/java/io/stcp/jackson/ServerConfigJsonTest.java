package io.stcp.jackson;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.stcp.ServerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServerConfigJsonTest {

    @Test
    void anEmptyObjectIsTheDefaults() {
        assertThat(ServerConfigJson.read("{}")).isEqualTo(ServerConfig.defaults());
    }

    @Test
    void absentFieldsTakeTheDefaults() {
        ServerConfig c = ServerConfigJson.read("{\"address\": \":9000\"}");
        assertThat(c.address()).isEqualTo(":9000");
        assertThat(c.maxConn()).as("Go rejected every connection here").isEqualTo(65535);
        assertThat(c.acceptDelay()).as("Go spun here").isEqualTo(Duration.ofNanos(5000));
    }

    @Test
    void readsTheGoFieldNamesWithGoAndIsoDurations() {
        ServerConfig c = ServerConfigJson.read("""
                {"address": "127.0.0.1:9000", "acceptDelay": "5µs", "acceptMaxDelay": "PT0.05S",
                 "acceptMaxRetry": 3, "maxConn": 1000, "writeTimeout": "1m30s", "tcpNoDelay": false}""");
        assertThat(c).isEqualTo(ServerConfig.builder().address("127.0.0.1:9000").acceptDelay(Duration.ofNanos(5000))
                .acceptMaxDelay(Duration.ofMillis(50)).acceptMaxRetry(3).maxConn(1000)
                .writeTimeout(Duration.ofSeconds(90)).tcpNoDelay(false).build());
        assertThat(ServerConfigJson.read("{\"acceptDelay\": \"5us\"}").acceptDelay()).isEqualTo(Duration.ofNanos(5000));
    }

    @Test
    void aBareNumberDurationIsRejectedWithTheFieldAndTheValue() {
        assertThatThrownBy(() -> ServerConfigJson.read("{\"acceptDelay\": 5000}"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("acceptDelay: 5000")
                .hasMessageContaining("unit");
    }

    @Test
    void badValuesNameTheFieldAndTheValue() {
        assertThatThrownBy(() -> ServerConfigJson.read("{\"maxConn\": -1}")).hasMessage("maxConn: -1 (expected: >= 0)");
        assertThatThrownBy(() -> ServerConfigJson.read("{\"maxConn\": \"many\"}"))
                .hasMessage("maxConn: \"many\" (expected: an integer)");
        assertThatThrownBy(() -> ServerConfigJson.read("{\"acceptDelay\": \"fast\"}"))
                .hasMessageStartingWith("acceptDelay: \"fast\"");
        assertThatThrownBy(() -> ServerConfigJson.read("{\"acceptDelay\": \"0s\"}"))
                .hasMessage("acceptDelay: 0s (expected: > 0)");
        assertThatThrownBy(() -> ServerConfigJson.read("{\"address\": \"9000\"}")).hasMessageStartingWith("address: \"9000\"");
    }

    @Test
    void anIntegerTooLargeForItsFieldSaysTheRangeNotThatItIsNoInteger() {
        assertThatThrownBy(() -> ServerConfigJson.read("{\"maxConn\": 3000000000}"))
                .hasMessage("maxConn: 3000000000 (expected: an integer from -2147483648 to 2147483647)");
        assertThatThrownBy(() -> ServerConfigJson.read("{\"inboundBudget\": 99999999999999999999}"))
                .hasMessage("inboundBudget: 99999999999999999999 (expected: an integer from -9223372036854775808 to "
                        + "9223372036854775807)");
        assertThatThrownBy(() -> ServerConfigJson.read("{\"maxConn\": 1000.5}")).hasMessage("maxConn: 1000.5 (expected: an integer)");
    }

    @Test
    void aFileThatCannotBeReadSaysWhy(@TempDir Path dir) {
        Path missing = dir.resolve("server.json");
        assertThatThrownBy(() -> ServerConfigJson.read(missing))
                .isInstanceOf(java.io.UncheckedIOException.class)
                .hasMessage("cannot read " + missing + " (java.nio.file.NoSuchFileException: " + missing + ")");
    }

    @Test
    void aBadFileIsNamedInTheErrorWithTheProblemAndItsCause(@TempDir Path dir) throws Exception {
        Path bad = java.nio.file.Files.writeString(dir.resolve("server.json"), "{\"maxConn\": -1}");
        assertThatThrownBy(() -> ServerConfigJson.read(bad))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(bad + ": maxConn: -1 (expected: >= 0)")
                .cause().isInstanceOf(IllegalArgumentException.class).hasMessage("maxConn: -1 (expected: >= 0)");

        Path malformed = java.nio.file.Files.writeString(dir.resolve("broken.json"), "{\"maxConn\": 10,\n}");
        assertThatThrownBy(() -> ServerConfigJson.read(malformed, ServerConfig.defaults()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(malformed + ": server config: malformed JSON at line 2, column 1: ")
                .rootCause().isInstanceOf(com.fasterxml.jackson.core.JsonProcessingException.class);
    }

    @Test
    void aFileNameGivenAsTheJsonTextIsToldToBeAPath() {
        assertThatThrownBy(() -> ServerConfigJson.read("gateway.json"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("server config: malformed JSON at line 1, column 1: ")
                .hasMessageEndingWith(" (read(String) takes the JSON text; to read a file, pass a Path:"
                        + " read(Path.of(\"gateway.json\")))")
                .rootCause().isInstanceOf(com.fasterxml.jackson.core.JsonProcessingException.class);
        assertThatThrownBy(() -> ServerConfigJson.read("{\"maxConn\": 10,\n}")) // JSON text: no such hint
                .hasMessageNotContaining("pass a Path");
        assertThatThrownBy(() -> ServerConfigJson.read("maxConn: 10\nwriteTimeout: 5s")) // YAML, say: no name either
                .hasMessageNotContaining("pass a Path");
    }

    @Test
    void unknownFieldsAreRejectedByName() {
        assertThatThrownBy(() -> ServerConfigJson.read("{\"maxConns\": 10}")).hasMessageStartingWith("maxConns: unknown field");
    }

    /** TLS is a setting of ServerConfig that JSON does not carry: the refusal says where it goes instead. */
    @Test
    void aTlsFieldIsRefusedWithWhereTlsIsGiven() {
        assertThatThrownBy(() -> ServerConfigJson.read("{\"tls\": {\"cert\": \"cert.pem\"}}"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("tls: not read from JSON")
                .hasMessageContaining("ServerConfigJson.read(file, ServerConfig.builder().tls(tls).build())");
    }

    @Test
    void aFieldGivenTwiceIsRejectedByItsPathNotTheLastOneSilentlyKept() {
        // the last maxConn, 0, is no limit at all; a reader that kept the first would enforce 10
        assertThatThrownBy(() -> ServerConfigJson.read("{\"maxConn\": 10, \"maxConn\": 0}"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("maxConn: given twice");
        assertThatThrownBy(() -> ServerConfigJson.read(
                        "{\"proxyProtocol\": {\"mode\": \"required\", \"trustedProxies\": [\"10.0.0.0/8\"], \"mode\": \"off\"}}"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("proxyProtocol.mode: given twice");
        ObjectMapper mapper = new ObjectMapper().registerModule(ServerConfigJson.module());
        assertThatThrownBy(() -> mapper.readValue("{\"ipLimits\": {\"deny\": [\"192.0.2.0/24\"], \"deny\": []}}", ServerConfig.class))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("ipLimits.deny: given twice");
    }

    @Test
    void anythingAfterTheObjectIsRejectedNotIgnored() {
        assertThatThrownBy(() -> ServerConfigJson.read("{\"maxConn\": 10}\n{\"maxConn\": 0}"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("line 2");
        assertThatThrownBy(() -> ServerConfigJson.read(new java.io.ByteArrayInputStream("{} x".getBytes())))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("column 4");
        assertThatThrownBy(() -> ServerConfigJson.read("null")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("expected a JSON object, got null");
        assertThatThrownBy(() -> ServerConfigJson.read(" ")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("expected a JSON object, got nothing");
    }

    @Test
    void readingAStreamLeavesItOpenAsDocumented() {
        var closed = new java.util.concurrent.atomic.AtomicBoolean();
        var in = new java.io.ByteArrayInputStream("{\"maxConn\": 10}".getBytes()) {
            @Override
            public void close() {
                closed.set(true);
            }
        };
        assertThat(ServerConfigJson.read(in).maxConn()).isEqualTo(10);
        assertThat(closed).as("stream closed by read(InputStream)").isFalse();
    }

    /** A component added to ServerConfig, ProxyProtocol or IpLimits without its JSON field fails here. */
    @Test
    void writeCoversEveryComponentButTheTlsKeyMaterial() throws Exception {
        var tree = new ObjectMapper().readTree(ServerConfigJson.write(ServerConfig.defaults()));
        for (var c : ServerConfig.class.getRecordComponents()) {
            if (!c.getName().equals("tls")) {
                assertThat(tree.has(c.getName())).as(c.getName()).isTrue();
            }
        }
        for (var c : io.stcp.ProxyProtocol.class.getRecordComponents()) {
            assertThat(tree.get("proxyProtocol").has(c.getName())).as("proxyProtocol." + c.getName()).isTrue();
        }
        for (var c : io.stcp.IpLimits.class.getRecordComponents()) {
            assertThat(tree.get("ipLimits").has(c.getName())).as("ipLimits." + c.getName()).isTrue();
        }
    }

    @Test
    void aValueBeyondJacksonsReadLimitsNamesItsFieldAndWhereItIs() {
        assertThatThrownBy(() -> ServerConfigJson.read("{\"maxConn\": 1" + "0".repeat(2000) + "}"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("maxConn: malformed JSON at line 1, column ")
                .hasMessageContaining("getMaxNumberLength");
        assertThatThrownBy(() -> ServerConfigJson.read(
                        "{\"ipLimits\": {\"deny\": [\"192.0.2.0/24\", " + "[".repeat(1000) + "]".repeat(1000) + "]}}"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("ipLimits.deny[1]")
                .hasMessageContaining("getMaxNestingDepth");
    }

    /** Objects nested past the limit: the path stops where the config's fields do, not a thousand names on. */
    @Test
    void aValueNestedInObjectsPastTheLimitNamesNoMoreThanTheConfigsDepth() {
        String deep = "{\"a\": ".repeat(100_000) + "1" + "}".repeat(100_000);
        assertThatThrownBy(() -> ServerConfigJson.read("{\"ipLimits\": {\"x\": " + deep + "}}"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("ipLimits.x...: malformed JSON at line 1, column ")
                .hasMessageContaining("getMaxNestingDepth")
                .satisfies(e -> assertThat(e.getMessage()).hasSizeLessThan(300));
        assertThatThrownBy(() -> ServerConfigJson.read("{\"maxConn\": " + deep + "}"))
                .hasMessageStartingWith("maxConn.a...: malformed JSON at line 1, column ");
    }

    /** The place is asked before the parser closes (a closed parser is at the end of its input). */
    @Test
    void aReadLimitInTheMiddleOfADocumentIsPlacedOnItsOwnLine() {
        String line3 = "  \"ipLimits\": {\"deny\": [" + "[".repeat(1000) + "]".repeat(1000) + "]},";
        String json = "{\n  \"maxConn\": 10,\n" + line3 + "\n  \"maxConnPerIp\": 5\n}";
        assertThatThrownBy(() -> ServerConfigJson.read(json))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("getMaxNestingDepth")
                .satisfies(e -> {
                    var m = java.util.regex.Pattern.compile("at line (\\d+), column (\\d+)").matcher(e.getMessage());
                    assertThat(m.find()).as(e.getMessage()).isTrue();
                    assertThat(Integer.parseInt(m.group(1))).isEqualTo(3);
                    assertThat(Integer.parseInt(m.group(2))).isBetween(1000, line3.indexOf(']'));
                });
    }

    @Test
    void malformedJsonReportsLineAndColumn() {
        assertThatThrownBy(() -> ServerConfigJson.read("{\n  \"maxConn\": 10,,\n}"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("line 2");
        assertThatThrownBy(() -> ServerConfigJson.read("[]")).hasMessageContaining("expected a JSON object");
    }

    @Test
    void writeThenReadGivesTheSameConfig() {
        ServerConfig c = ServerConfig.builder().address("[::1]:0").acceptDelay(Duration.ofNanos(1500))
                .acceptMaxRetry(7).maxConn(0).writeTimeout(Duration.ZERO).readIdleTimeout(Duration.ofSeconds(20))
                .firstFrameTimeout(Duration.ofMillis(1500)).build();
        assertThat(ServerConfigJson.read(ServerConfigJson.write(c))).isEqualTo(c);
    }

    @Test
    void theDeploymentSettingsRoundTripAndTheirAbsentFieldsTakeTheDefaults() {
        ServerConfig c = ServerConfig.builder().address("unix:/run/echo.sock").reusePort(true)
                .unixSocketPermissions("rw-rw----")
                .proxyProtocol(io.stcp.ProxyProtocol.optional("10.0.0.0/8", "::1").withHeaderTimeout(Duration.ofSeconds(2)))
                .ipLimits(io.stcp.IpLimits.builder().maxConnPerIp(20).connectionsPerSecondPerIp(2.5).burstPerIp(10)
                        .deny("192.0.2.0/24").maxTrackedIps(1000).build()).build();
        assertThat(ServerConfigJson.read(ServerConfigJson.write(c))).isEqualTo(c);

        ServerConfig partial = ServerConfigJson.read("{\"proxyProtocol\": {\"mode\": \"required\", \"trustedProxies\":"
                + " [\"127.0.0.1/32\"]}, \"ipLimits\": {\"maxConnPerIp\": 3}}");
        assertThat(partial.proxyProtocol()).isEqualTo(io.stcp.ProxyProtocol.required("127.0.0.1/32"));
        assertThat(partial.ipLimits()).isEqualTo(io.stcp.IpLimits.builder().maxConnPerIp(3).build());
    }

    @Test
    void badDeploymentSettingsNameTheirField() {
        assertThatThrownBy(() -> ServerConfigJson.read("{\"proxyProtocol\": {\"mode\": \"always\"}}"))
                .hasMessageStartingWith("proxyProtocol.mode: \"always\"");
        assertThatThrownBy(() -> ServerConfigJson.read("{\"proxyProtocol\": {\"mode\": \"required\"}}"))
                .hasMessageStartingWith("proxyProtocol.trustedProxies: empty");
        assertThatThrownBy(() -> ServerConfigJson.read("{\"proxyProtocol\": {\"headerTimeout\": 5}}"))
                .hasMessageStartingWith("proxyProtocol.headerTimeout: 5");
        assertThatThrownBy(() -> ServerConfigJson.read("{\"ipLimits\": {\"deny\": [\"example.com\"]}}"))
                .hasMessageStartingWith("ipLimits.deny: \"example.com\"");
        assertThatThrownBy(() -> ServerConfigJson.read("{\"ipLimits\": {\"maxConPerIp\": 1}}"))
                .hasMessageStartingWith("ipLimits.maxConPerIp: unknown field");
        assertThatThrownBy(() -> ServerConfigJson.read("{\"ipLimits\": {\"maxConnPerIp\": -1}}"))
                .hasMessageStartingWith("ipLimits.maxConnPerIp: -1");
    }

    /** A double would read 1e-400 as 0, which means no limit: an operator who asked for a tiny rate got none. */
    @Test
    void aRateADoubleCannotHoldIsRefusedNotRoundedToNoLimit() throws Exception {
        ObjectMapper mapper = new ObjectMapper().registerModule(ServerConfigJson.module());
        for (String rate : new String[] {"1e-400", "-1e-400", "1e400", "1e-999999999", "-1e999999999", "1" + "0".repeat(400)}) {
            String json = "{\"ipLimits\": {\"connectionsPerSecondPerIp\": " + rate + "}}";
            assertThatThrownBy(() -> ServerConfigJson.read(json)).as(rate)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("ipLimits.connectionsPerSecondPerIp: " + new java.math.BigDecimal(rate) + " (expected: ");
            assertThatThrownBy(() -> mapper.readValue(json, ServerConfig.class)).as(rate)
                    .hasMessageContaining("ipLimits.connectionsPerSecondPerIp: " + new java.math.BigDecimal(rate));
        }
        assertThatThrownBy(() -> ServerConfigJson.read("{\"maxConn\": 1e999999999}"))
                .hasMessage("maxConn: 1E+999999999 (expected: an integer)");
        assertThat(ServerConfigJson.read("{\"ipLimits\": {\"connectionsPerSecondPerIp\": 4.9e-324}}").ipLimits()
                .connectionsPerSecondPerIp()).as("the smallest a double holds").isEqualTo(Double.MIN_VALUE);
        assertThat(ServerConfigJson.read("{\"ipLimits\": {\"connectionsPerSecondPerIp\": 0.0}}").ipLimits().tracksAddresses())
                .isFalse();
        assertThatThrownBy(() -> ServerConfigJson.read("{\"ipLimits\": {\"connectionsPerSecondPerIp\": -0.5}}"))
                .hasMessageStartingWith("ipLimits.connectionsPerSecondPerIp: -0.5 (expected: a finite number >= 0");
        // NaN and infinity, where an application's mapper lets JSON hold them
        ObjectMapper lenient = com.fasterxml.jackson.databind.json.JsonMapper.builder()
                .enable(com.fasterxml.jackson.core.json.JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build()
                .registerModule(ServerConfigJson.module());
        for (String rate : new String[] {"NaN", "Infinity", "-Infinity"}) {
            assertThatThrownBy(() -> lenient.readValue("{\"ipLimits\": {\"connectionsPerSecondPerIp\": " + rate + "}}",
                    ServerConfig.class)).as(rate).hasMessageContaining("ipLimits.connectionsPerSecondPerIp: " + rate);
        }
    }

    /** Settings of something that is off, accepted and never used, are refused as the builders refuse them. */
    @Test
    void aSettingOfALimitOrHeaderThatIsOffIsRefusedByName() {
        assertThatThrownBy(() -> ServerConfigJson.read("{\"proxyProtocol\": {\"trustedProxies\": [\"10.0.0.0/8\"]}}"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("proxyProtocol.trustedProxies: [10.0.0.0/8] while the mode is OFF (expected: none;");
        assertThatThrownBy(() -> ServerConfigJson.read(
                        "{\"proxyProtocol\": {\"mode\": \"off\", \"headerTimeout\": \"1s\"}}"))
                .hasMessageStartingWith("proxyProtocol.headerTimeout: 1s while the mode is OFF");
        assertThatThrownBy(() -> ServerConfigJson.read("{\"proxyProtocol\": {\"maxHeaderLength\": 1024}}"))
                .hasMessageStartingWith("proxyProtocol.maxHeaderLength: 1024 while the mode is OFF");
        assertThatThrownBy(() -> ServerConfigJson.read("{\"ipLimits\": {\"burstPerIp\": 10}}"))
                .hasMessageStartingWith("ipLimits.burstPerIp: 10 without connectionsPerSecondPerIp");
        assertThatThrownBy(() -> ServerConfigJson.read("{\"ipLimits\": {\"burstPerIp\": 10, \"maxConnPerIp\": 5}}"))
                .hasMessageStartingWith("ipLimits.burstPerIp: 10 without connectionsPerSecondPerIp");
        assertThatThrownBy(() -> ServerConfigJson.read("{\"ipLimits\": {\"maxTrackedIps\": 100}}"))
                .hasMessageStartingWith("ipLimits.maxTrackedIps: 100 without maxConnPerIp or connectionsPerSecondPerIp");
        // what the defaults already say is no setting
        assertThat(ServerConfigJson.read("{\"proxyProtocol\": {\"mode\": \"off\", \"trustedProxies\": [],"
                + " \"headerTimeout\": \"5s\", \"maxHeaderLength\": 4096}, \"ipLimits\": {\"burstPerIp\": 0,"
                + " \"maxTrackedIps\": 65536}}")).isEqualTo(ServerConfig.defaults());
        assertThat(ServerConfigJson.read("{\"ipLimits\": {\"maxConnPerIp\": 5, \"maxTrackedIps\": 100}}").ipLimits()
                .maxTrackedIps()).isEqualTo(100);
    }

    @Test
    void theEmptyAddressOfGoIsAcceptedAndKept() {
        ServerConfig c = ServerConfigJson.read("{\"address\": \"\"}");
        assertThat(c.address()).isEmpty();
        assertThat(ServerConfigJson.read(ServerConfigJson.write(c))).isEqualTo(c);
    }

    @Test
    void readsFromAFile(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("server.json");
        Files.writeString(f, "{\"maxConn\": 10}");
        assertThat(ServerConfigJson.read(f).maxConn()).isEqualTo(10);
    }

    @Test
    void readingAFileOverABaseKeepsTheBaseForAbsentFields(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("server.json");
        Files.writeString(f, "{\"maxConn\": 10}");
        ServerConfig base = ServerConfig.builder().address("127.0.0.1:9000").tcpNoDelay(false).build();
        assertThat(ServerConfigJson.read(f, base)).isEqualTo(base.toBuilder().maxConn(10).build());
        Files.writeString(f, "{\"address\": \":7000\"}");
        assertThat(ServerConfigJson.read(f, base).address()).isEqualTo(":7000");
    }

    /** What refines a setting the file turns off goes with it: the operator wrote only the switch. */
    @Test
    void aFileThatTurnsOffTheBasesHeaderOrLimitsTurnsOffWhatRefinedThem(@TempDir Path dir) throws Exception {
        ServerConfig base = ServerConfig.builder()
                .proxyProtocol(io.stcp.ProxyProtocol.required("10.0.0.0/8").withHeaderTimeout(Duration.ofSeconds(2)))
                .ipLimits(io.stcp.IpLimits.builder().maxConnPerIp(20).connectionsPerSecondPerIp(5).burstPerIp(30)
                        .maxTrackedIps(1000).deny("192.0.2.0/24").build()).build();
        Path f = dir.resolve("server.json");
        Files.writeString(f, "{\"proxyProtocol\": {\"mode\": \"off\"}, \"ipLimits\": {\"connectionsPerSecondPerIp\": 0}}");
        ServerConfig c = ServerConfigJson.read(f, base);
        assertThat(c.proxyProtocol()).isEqualTo(io.stcp.ProxyProtocol.off());
        assertThat(c.ipLimits()).isEqualTo(io.stcp.IpLimits.builder().maxConnPerIp(20).maxTrackedIps(1000)
                .deny("192.0.2.0/24").build());
        Files.writeString(f, "{\"ipLimits\": {\"connectionsPerSecondPerIp\": 0, \"maxConnPerIp\": 0}}");
        assertThat(ServerConfigJson.read(f, base).ipLimits())
                .isEqualTo(io.stcp.IpLimits.builder().deny("192.0.2.0/24").build());
        // what the file itself gives for something off is refused all the same
        Files.writeString(f, "{\"proxyProtocol\": {\"mode\": \"off\", \"trustedProxies\": [\"10.0.0.0/8\"]}}");
        assertThatThrownBy(() -> ServerConfigJson.read(f, base))
                .hasMessageStartingWith(f + ": proxyProtocol.trustedProxies: [10.0.0.0/8] while the mode is OFF");
        Files.writeString(f, "{\"ipLimits\": {\"connectionsPerSecondPerIp\": 0, \"burstPerIp\": 30}}");
        assertThatThrownBy(() -> ServerConfigJson.read(f, base))
                .hasMessageStartingWith(f + ": ipLimits.burstPerIp: 30 without connectionsPerSecondPerIp");
        // and a mode that stays on keeps the base's settings
        Files.writeString(f, "{\"proxyProtocol\": {\"mode\": \"optional\"}}");
        assertThat(ServerConfigJson.read(f, base).proxyProtocol())
                .isEqualTo(io.stcp.ProxyProtocol.optional("10.0.0.0/8").withHeaderTimeout(Duration.ofSeconds(2)));
    }

    record Timeouts(Duration idle) {}

    @Test
    void theModuleGivesAnyObjectMapperGoDurations() throws Exception {
        ObjectMapper m = new ObjectMapper().registerModule(ServerConfigJson.module());
        assertThat(m.readValue("{\"idle\": \"1m30s\"}", Timeouts.class).idle()).isEqualTo(Duration.ofSeconds(90));
        assertThat(m.writeValueAsString(new Timeouts(Duration.ofMillis(50)))).isEqualTo("{\"idle\":\"50ms\"}");
        assertThatThrownBy(() -> m.readValue("{\"idle\": 5}", Timeouts.class)).hasMessageContaining("idle: 5");
    }

    record AppConfig(String name, ServerConfig server) {}

    @Test
    void theModuleMakesAnyObjectMapperReadServerConfigWithTheDefaultsForAbsentFields() throws Exception {
        ObjectMapper m = new ObjectMapper().registerModule(ServerConfigJson.module());
        assertThat(m.readValue("{\"address\": \":9000\"}", ServerConfig.class))
                .as("maxConn 0 would mean no limit, tcpNoDelay false would turn Nagle on")
                .isEqualTo(ServerConfig.builder().address(":9000").build());
        assertThat(m.readValue("{}", ServerConfig.class)).isEqualTo(ServerConfig.defaults());
        AppConfig app = m.readValue("{\"name\": \"edge\", \"server\": {\"maxConn\": 10}}", AppConfig.class);
        assertThat(app.server()).isEqualTo(ServerConfig.builder().maxConn(10).build());
        assertThatThrownBy(() -> m.readValue("{\"maxConns\": 10}", ServerConfig.class))
                .hasMessageContaining("maxConns: unknown field");
        assertThatThrownBy(() -> m.readValue("{\"maxConn\": -1}", ServerConfig.class))
                .hasMessageContaining("maxConn: -1 (expected: >= 0)");
    }

    /** A null config is refused by its field's name, as a null proxyProtocol is; Jackson gave the application null. */
    @Test
    void theModuleRefusesANullServerConfigByItsFieldsName() throws Exception {
        ObjectMapper m = new ObjectMapper().registerModule(ServerConfigJson.module());
        assertThatThrownBy(() -> m.readValue("{\"name\": \"edge\", \"server\": null}", AppConfig.class))
                .hasMessageContaining("server: null (expected: a JSON object");
        assertThatThrownBy(() -> m.readValue("null", ServerConfig.class))
                .hasMessageContaining("server config: null (expected: a JSON object");
        assertThatThrownBy(() -> ServerConfigJson.read("{\"proxyProtocol\": null}"))
                .hasMessageStartingWith("proxyProtocol: null (expected: a JSON object)");
        assertThat(m.readValue("{\"name\": \"edge\"}", AppConfig.class).server()).as("absent: left to the class").isNull();
        assertThat(m.readValue("{\"server\": {}}", AppConfig.class).server()).isEqualTo(ServerConfig.defaults());
    }

    @Test
    void theModuleWritesServerConfigAsWriteDoesAndReadsItBack() throws Exception {
        ObjectMapper m = new ObjectMapper().registerModule(ServerConfigJson.module());
        ServerConfig c = ServerConfig.builder().address("127.0.0.1:0").acceptDelay(Duration.ofNanos(1500))
                .maxConn(0).tcpNoDelay(false).readIdleTimeout(Duration.ofSeconds(20)).build();
        String json = m.writeValueAsString(c);
        assertThat(m.readTree(json)).isEqualTo(m.readTree(ServerConfigJson.write(c)));
        assertThat(m.readValue(json, ServerConfig.class)).isEqualTo(c);
    }
}
