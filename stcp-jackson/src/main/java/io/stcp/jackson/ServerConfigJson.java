package io.stcp.jackson;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.Module;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializerBase;
import io.stcp.Durations;
import io.stcp.ServerConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * Reads and writes {@link ServerConfig} as JSON with the Go field names: {@code address},
 * {@code acceptDelay}, {@code acceptMaxDelay}, {@code acceptMaxRetry}, {@code maxConn}, plus the
 * Java additions {@code writeTimeout}, {@code tcpNoDelay}, {@code readIdleTimeout},
 * {@code firstFrameTimeout}, {@code frameTimeout}, {@code inboundBudget} (bytes) and {@code backlog}.
 *
 * <p>Every field is optional and an absent one takes the default of {@link ServerConfig#builder()}
 * (Go's loader left absent fields at zero, which rejected every connection). Durations are Go
 * strings ({@code "5µs"}, {@code "5us"}, {@code "50ms"}, {@code "1m30s"}) or ISO-8601
 * ({@code "PT0.05S"}); a bare number is rejected, since Go would read it as nanoseconds.
 *
 * <p><b>Failure.</b> Every problem is an {@link IllegalArgumentException} whose message starts with
 * the field name and shows the bad value, e.g. {@code maxConn: -1 (expected: >= 0)} or
 * {@code acceptDelay: 5000 (...)}; unknown fields are rejected by name; malformed JSON reports its
 * line and column. I/O failures reading a file are {@link UncheckedIOException}s.
 *
 * <p><b>Thread safety.</b> All methods are thread-safe.
 */
public final class ServerConfigJson {
    private static final ObjectMapper MAPPER = new ObjectMapper().registerModule(module());
    private static final Set<String> FIELDS = Set.of("address", "acceptDelay", "acceptMaxDelay", "acceptMaxRetry",
            "maxConn", "writeTimeout", "tcpNoDelay", "readIdleTimeout", "firstFrameTimeout", "frameTimeout",
            "inboundBudget", "backlog");

    private ServerConfigJson() {}

    /**
     * A Jackson module for an application's own {@link ObjectMapper}: it reads {@link Duration}
     * from Go or ISO-8601 strings (rejecting bare numbers) and writes it in Go form, and it reads
     * {@link ServerConfig} — at the top level or as a field of the application's config — exactly
     * as {@link #read(String)} does: absent fields take the defaults (without it Jackson would
     * leave them at null, 0 and false, and {@code maxConn} 0 means no limit), unknown fields and
     * bad values are rejected by name. The mapper writes a {@link ServerConfig} with the same
     * fields as {@link #write(ServerConfig)}.
     */
    public static Module module() {
        SimpleModule m = new SimpleModule("stcp");
        m.addDeserializer(Duration.class, new DurationDeserializer());
        m.addSerializer(Duration.class, new DurationSerializer());
        m.addDeserializer(ServerConfig.class, new ServerConfigDeserializer());
        m.setMixInAnnotation(ServerConfig.class, WithoutTls.class);
        return m;
    }

    /** TLS is set in code ({@code ServerConfig.Builder.tls}), not in JSON: the module leaves it out. */
    @com.fasterxml.jackson.annotation.JsonIgnoreProperties("tls")
    private abstract static class WithoutTls {}

    /** Reads a config from {@code file}. */
    public static ServerConfig read(Path file) {
        return read(file, ServerConfig.defaults());
    }

    /**
     * Reads a config from {@code file} whose absent fields take the values of {@code base} instead
     * of the defaults, e.g. an application's own default address.
     */
    public static ServerConfig read(Path file, ServerConfig base) {
        try (InputStream in = Files.newInputStream(file)) {
            return fromTree(MAPPER.readTree(in), base);
        } catch (JsonProcessingException e) {
            throw malformed(e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /** Reads a config from a stream (not closed). */
    public static ServerConfig read(InputStream in) {
        try {
            return fromTree(MAPPER.readTree(in), ServerConfig.defaults());
        } catch (JsonProcessingException e) {
            throw malformed(e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads a config from a JSON document. */
    public static ServerConfig read(String json) {
        try {
            return fromTree(MAPPER.readTree(json), ServerConfig.defaults());
        } catch (JsonProcessingException e) {
            throw malformed(e);
        }
    }

    /** Writes {@code config} as a JSON object with every field, durations in Go form. */
    public static String write(ServerConfig config) {
        ObjectNode n = MAPPER.createObjectNode();
        n.put("address", config.address());
        n.put("acceptDelay", Durations.format(config.acceptDelay()));
        n.put("acceptMaxDelay", Durations.format(config.acceptMaxDelay()));
        n.put("acceptMaxRetry", config.acceptMaxRetry());
        n.put("maxConn", config.maxConn());
        n.put("writeTimeout", Durations.format(config.writeTimeout()));
        n.put("tcpNoDelay", config.tcpNoDelay());
        n.put("readIdleTimeout", Durations.format(config.readIdleTimeout()));
        n.put("firstFrameTimeout", Durations.format(config.firstFrameTimeout()));
        n.put("frameTimeout", Durations.format(config.frameTimeout()));
        n.put("inboundBudget", config.inboundBudget());
        n.put("backlog", config.backlog());
        return n.toPrettyString();
    }

    private static ServerConfig fromTree(JsonNode root, ServerConfig base) {
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("server config: expected a JSON object, got "
                    + (root == null ? "nothing" : root.getNodeType().toString().toLowerCase()));
        }
        ServerConfig.Builder b = base.toBuilder();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String field = e.getKey();
            JsonNode v = e.getValue();
            switch (field) {
                case "address" -> b.address(text(field, v));
                case "acceptDelay" -> b.acceptDelay(duration(field, v));
                case "acceptMaxDelay" -> b.acceptMaxDelay(duration(field, v));
                case "acceptMaxRetry" -> b.acceptMaxRetry(integer(field, v));
                case "maxConn" -> b.maxConn(integer(field, v));
                case "writeTimeout" -> b.writeTimeout(duration(field, v));
                case "tcpNoDelay" -> b.tcpNoDelay(bool(field, v));
                case "readIdleTimeout" -> b.readIdleTimeout(duration(field, v));
                case "firstFrameTimeout" -> b.firstFrameTimeout(duration(field, v));
                case "frameTimeout" -> b.frameTimeout(duration(field, v));
                case "inboundBudget" -> b.inboundBudget(longValue(field, v));
                case "backlog" -> b.backlog(integer(field, v));
                default -> throw new IllegalArgumentException(field + ": unknown field (expected one of "
                        + new java.util.TreeSet<>(FIELDS) + ")");
            }
        }
        return b.build(); // its messages already start with the field name
    }

    private static String text(String field, JsonNode v) {
        if (!v.isTextual()) {
            throw new IllegalArgumentException(field + ": " + v + " (expected: a string)");
        }
        return v.asText();
    }

    private static int integer(String field, JsonNode v) {
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new IllegalArgumentException(field + ": " + v + " (expected: an integer)");
        }
        return v.intValue();
    }

    private static long longValue(String field, JsonNode v) {
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw new IllegalArgumentException(field + ": " + v + " (expected: an integer)");
        }
        return v.asLong();
    }

    private static boolean bool(String field, JsonNode v) {
        if (!v.isBoolean()) {
            throw new IllegalArgumentException(field + ": " + v + " (expected: true or false)");
        }
        return v.booleanValue();
    }

    private static Duration duration(String field, JsonNode v) {
        if (v.isNumber()) {
            throw new IllegalArgumentException(field + ": " + v + " (a bare number has no unit; write e.g. \"50ms\","
                    + " \"5µs\" or \"PT0.05S\")");
        }
        if (!v.isTextual()) {
            throw new IllegalArgumentException(field + ": " + v + " (expected: a duration string like \"50ms\")");
        }
        try {
            return Durations.parse(v.asText());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(field + ": " + e.getMessage().replaceFirst("^duration: ", ""), e);
        }
    }

    private static IllegalArgumentException malformed(JsonProcessingException e) {
        var loc = e.getLocation();
        String where = loc == null ? "" : " at line " + loc.getLineNr() + ", column " + loc.getColumnNr();
        return new IllegalArgumentException("server config: malformed JSON" + where + ": " + e.getOriginalMessage(), e);
    }

    private static final class DurationDeserializer extends StdDeserializer<Duration> {
        private static final long serialVersionUID = 1L;

        DurationDeserializer() {
            super(Duration.class);
        }

        @Override
        public Duration deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            String field = p.currentName() == null ? "duration" : p.currentName();
            if (p.currentToken() != JsonToken.VALUE_STRING) {
                throw new IllegalArgumentException(field + ": " + p.getText()
                        + " (expected: a duration string like \"50ms\", \"5µs\" or \"PT0.05S\"; a bare number has no unit)");
            }
            return duration(field, ctxt.readTree(p));
        }
    }

    private static final class ServerConfigDeserializer extends StdDeserializer<ServerConfig> {
        private static final long serialVersionUID = 1L;

        ServerConfigDeserializer() {
            super(ServerConfig.class);
        }

        @Override
        public ServerConfig deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            return fromTree(ctxt.readTree(p), ServerConfig.defaults());
        }
    }

    private static final class DurationSerializer extends ToStringSerializerBase {
        private static final long serialVersionUID = 1L;

        DurationSerializer() {
            super(Duration.class);
        }

        @Override
        public String valueToString(Object value) {
            return Durations.format((Duration) value);
        }
    }
}
