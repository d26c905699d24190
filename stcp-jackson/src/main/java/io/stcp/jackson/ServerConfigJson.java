package io.stcp.jackson;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.Module;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializerBase;
import io.stcp.Durations;
import io.stcp.IpLimits;
import io.stcp.ProxyProtocol;
import io.stcp.ServerConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads and writes {@link ServerConfig} as JSON with the Go field names: {@code address},
 * {@code acceptDelay}, {@code acceptMaxDelay}, {@code acceptMaxRetry}, {@code maxConn}, plus the
 * Java additions {@code writeTimeout}, {@code tcpNoDelay}, {@code readIdleTimeout},
 * {@code firstFrameTimeout}, {@code frameTimeout}, {@code inboundBudget} and {@code outboundBudget}
 * (bytes), {@code backlog},
 * {@code reusePort}, {@code unixSocketPermissions}, and two objects:
 * <pre>{@code
 * "proxyProtocol": { "mode": "required", "trustedProxies": ["10.0.0.0/8"], "headerTimeout": "5s", "maxHeaderLength": 4096 },
 * "ipLimits": { "maxConnPerIp": 20, "connectionsPerSecondPerIp": 5, "burstPerIp": 10,
 *               "allow": [], "deny": ["192.0.2.0/24"], "maxTrackedIps": 65536 }
 * }</pre>
 * whose absent fields take their defaults too ({@code mode} is {@code off}, {@code required} or
 * {@code optional}); their problems name the field as {@code proxyProtocol.mode}.
 *
 * <p>{@link ServerConfig#tls()} has no JSON field (it is key material, not text): it comes from the
 * base of {@link #read(Path, ServerConfig)}, and is none otherwise; a {@code tls} field is refused with
 * that advice, not as an unknown field.
 *
 * <p>Every field is optional and an absent one takes the default of {@link ServerConfig#builder()}
 * (Go's loader left absent fields at zero, which rejected every connection). Durations are Go
 * strings ({@code "5µs"}, {@code "5us"}, {@code "50ms"}, {@code "1m30s"}) or ISO-8601
 * ({@code "PT0.05S"}); a bare number is rejected, since Go would read it as nanoseconds.
 *
 * <p><b>Failure.</b> Every problem is an {@link IllegalArgumentException} whose message starts with
 * the field name and shows the bad value, e.g. {@code maxConn: -1 (expected: >= 0)} or
 * {@code acceptDelay: 5000 (...)}; a number a double cannot hold is rejected rather than rounded
 * ({@code ipLimits.connectionsPerSecondPerIp: 1E-400 (...)}, which would be 0: no limit), as is a
 * setting of something that is off ({@code proxyProtocol.trustedProxies} with the mode {@code off},
 * {@code ipLimits.burstPerIp} without a rate: see {@link ProxyProtocol} and {@link IpLimits}, whose
 * checks these are); unknown fields are rejected by name, and so is a field given
 * twice ({@code proxyProtocol.mode: given twice}: JSON readers differ on which one counts, Jackson's
 * trees keep the last); malformed JSON, and anything after the object, reports its line and column,
 * and a value beyond Jackson's default read limits ({@code StreamReadConstraints}: nesting over 1000
 * deep, a number over 1000 digits, a string over 20,000,000 characters, a field name over 50,000)
 * its field too, as deep as the config's fields go ({@code maxConn: malformed JSON at line 1,
 * column 1015: Number value length (1001) exceeds ...}; {@code ipLimits.deny[0]: ...} and
 * {@code ipLimits.x...: ...} within deeper values). Read from a file, the message starts
 * with the file's name instead ({@code /etc/app/server.json: maxConn: -1 (expected: >= 0)}), its
 * cause the exception without it. I/O failures reading a file are {@link UncheckedIOException}s,
 * which name the file too.
 *
 * <p><b>Thread safety.</b> All methods are thread-safe.
 */
public final class ServerConfigJson {
    private static final ObjectMapper MAPPER = new ObjectMapper().registerModule(module());
    private static final Set<String> FIELDS = Set.of("address", "acceptDelay", "acceptMaxDelay", "acceptMaxRetry",
            "maxConn", "writeTimeout", "tcpNoDelay", "readIdleTimeout", "firstFrameTimeout", "frameTimeout",
            "inboundBudget", "outboundBudget", "backlog", "proxyProtocol", "ipLimits", "reusePort", "unixSocketPermissions");
    private static final Set<String> PROXY_FIELDS = Set.of("mode", "trustedProxies", "headerTimeout", "maxHeaderLength");
    private static final Set<String> IP_FIELDS = Set.of("maxConnPerIp", "connectionsPerSecondPerIp", "burstPerIp", "allow",
            "deny", "maxTrackedIps");
    /** The most names in a field path of an error: the config's fields are at most two deep ({@code ipLimits.deny}). */
    private static final int PATH_NAMES = 2;

    private ServerConfigJson() {}

    /**
     * A Jackson module for an application's own {@link ObjectMapper}: it reads {@link Duration}
     * from Go or ISO-8601 strings (rejecting bare numbers) and writes it in Go form, and it reads
     * {@link ServerConfig} — at the top level or as a field of the application's config — exactly
     * as {@link #read(String)} does: absent fields take the defaults (without it Jackson would
     * leave them at null, 0 and false, and {@code maxConn} 0 means no limit), unknown fields and
     * bad values are rejected by name, and so is a null config ({@code "server": null}: the
     * server's defaults are {@code {}}). The mapper writes a {@link ServerConfig} with the same
     * fields as {@link #write(ServerConfig)}.
     */
    public static Module module() {
        SimpleModule m = new SimpleModule("stcp");
        m.addDeserializer(Duration.class, new DurationDeserializer());
        m.addSerializer(Duration.class, new DurationSerializer());
        m.addDeserializer(ServerConfig.class, new ServerConfigDeserializer());
        m.addSerializer(ServerConfig.class, new ServerConfigSerializer());
        return m;
    }

    /** Reads a config from {@code file}. */
    public static ServerConfig read(Path file) {
        return read(file, ServerConfig.defaults());
    }

    /**
     * Reads a config from {@code file} whose absent fields take the values of {@code base} instead
     * of the defaults, e.g. an application's own default address. A setting the file turns off
     * takes what refined it in the base along: {@code "proxyProtocol": {"mode": "off"}} drops the
     * base's trusted proxies and header settings, a rate of 0 its burst, and with both address
     * limits at 0 its table size; given in the file itself, those are refused.
     */
    public static ServerConfig read(Path file, ServerConfig base) {
        try (InputStream in = Files.newInputStream(file)) {
            return read(MAPPER.createParser(in), base);
        } catch (JsonProcessingException e) {
            throw inFile(file, malformed(e));
        } catch (IllegalArgumentException e) {
            throw inFile(file, e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + " (" + e + ")", e);
        }
    }

    /** {@code e}, its message after the file's name: {@code server.json: maxConn: -1 (expected: >= 0)}. */
    private static IllegalArgumentException inFile(Path file, IllegalArgumentException e) {
        return new IllegalArgumentException(file + ": " + e.getMessage(), e);
    }

    /** Reads a config from a stream (not closed). */
    public static ServerConfig read(InputStream in) {
        try {
            JsonParser p = MAPPER.createParser(in);
            p.disable(JsonParser.Feature.AUTO_CLOSE_SOURCE);
            return read(p, ServerConfig.defaults());
        } catch (JsonProcessingException e) {
            throw malformed(e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Reads a config from a JSON document: the text itself, not a file's name, which is read with
     * {@link #read(Path)} (a name given here fails as malformed JSON, and says so).
     */
    public static ServerConfig read(String json) {
        try {
            return read(MAPPER.createParser(json), ServerConfig.defaults());
        } catch (JsonProcessingException e) {
            IllegalArgumentException malformed = malformed(e);
            String text = json.strip();
            if (!looksLikeAFileName(text)) {
                throw malformed;
            }
            throw new IllegalArgumentException(malformed.getMessage() + " (read(String) takes the JSON text;"
                    + " to read a file, pass a Path: read(Path.of(\"" + text + "\")))", e);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a String has no I/O to fail
        }
    }

    /** Whether text that is no JSON may be a file's name, given where JSON text is expected: one short line, no JSON opening. */
    private static boolean looksLikeAFileName(String text) {
        return !text.isEmpty() && text.length() <= 1024 && "{[\"".indexOf(text.charAt(0)) < 0
                && text.chars().noneMatch(c -> c == '\n' || c == '\r');
    }

    /** The document {@code p} holds: one object and nothing after it. */
    private static ServerConfig read(JsonParser p, ServerConfig base) throws IOException {
        try (p) {
            try {
                return readDocument(p, base);
            } catch (StreamConstraintsException e) {
                // Jackson's read limits (StreamReadConstraints) say neither the field nor where; asked
                // here, before the close moves the parser's location to the end of its input
                String field = path(p);
                throw malformed(field.isEmpty() ? "server config" : field, p.currentLocation(), e.getOriginalMessage(), e);
            }
        }
    }

    /**
     * Where the parser is, as a field path as deep as the config's own fields go: {@code
     * ipLimits.deny[1]}, up to the first array element and at most {@value #PATH_NAMES} names, then
     * {@code ...} (within a value nested a thousand deep, the rest would be a thousand {@code [0]}
     * or {@code .a}).
     */
    private static String path(JsonParser p) {
        ArrayDeque<JsonStreamContext> contexts = new ArrayDeque<>();
        for (JsonStreamContext c = p.getParsingContext(); c != null && !c.inRoot(); c = c.getParent()) {
            contexts.push(c);
        }
        StringBuilder path = new StringBuilder();
        int names = 0;
        for (JsonStreamContext c : contexts) {
            if (c.inArray()) {
                return path.append('[').append(c.getCurrentIndex()).append(']').toString();
            }
            if (c.getCurrentName() != null) {
                if (names++ == PATH_NAMES) {
                    return path.append("...").toString();
                }
                path.append(path.isEmpty() ? "" : ".").append(c.getCurrentName());
            }
        }
        return path.toString();
    }

    private static ServerConfig readDocument(JsonParser p, ServerConfig base) throws IOException {
        JsonToken t = p.nextToken();
        JsonNode root = t == null ? null : value(p, "", JsonParser::readValueAsTree);
        if (t != null && p.nextToken() != null) {
            throw malformed("server config", p.currentTokenLocation(), "more after the object (expected: one object)", null);
        }
        return fromTree(root, base);
    }

    /** Reads a JSON value, the parser at its first token, with every JsonNode but an object's. */
    @FunctionalInterface
    private interface TreeReader {
        JsonNode read(JsonParser p) throws IOException;
    }

    /**
     * The value at the parser's current token, its objects read here to refuse a field given twice
     * (Jackson's trees keep the last one silently, while other readers of the same file keep the first).
     */
    private static JsonNode value(JsonParser p, String path, TreeReader values) throws IOException {
        JsonToken t = p.currentToken();
        if (t == JsonToken.VALUE_NULL) {
            return NullNode.getInstance();
        }
        if (t == JsonToken.VALUE_NUMBER_FLOAT && !p.isNaN()) {
            // as written: a double would read 1e-400 as 0 (no limit) and 1e400 as infinity
            return JsonNodeFactory.instance.numberNode(p.getDecimalValue());
        }
        if (t != JsonToken.START_OBJECT && t != JsonToken.FIELD_NAME) {
            return values.read(p);
        }
        ObjectNode node = JsonNodeFactory.instance.objectNode();
        for (t = t == JsonToken.START_OBJECT ? p.nextToken() : t; t == JsonToken.FIELD_NAME; t = p.nextToken()) {
            String name = p.currentName();
            String field = path.isEmpty() ? name : path + "." + name;
            p.nextToken();
            if (node.replace(name, value(p, field, values)) != null) {
                throw new IllegalArgumentException(field + ": given twice (expected: each field once)");
            }
        }
        return node;
    }

    /**
     * Writes {@code config} as a JSON object with every field but {@code tls}, durations in Go
     * form. TLS is key material and an {@link javax.net.ssl.SSLContext}, not JSON: what this
     * writes reads back as a plain TCP config, so pass a config with its TLS as the base of
     * {@link #read(Path, ServerConfig)} to keep it.
     */
    public static String write(ServerConfig config) {
        return toTree(config).toPrettyString();
    }

    private static ObjectNode toTree(ServerConfig config) {
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
        n.put("outboundBudget", config.outboundBudget());
        n.put("backlog", config.backlog());
        ProxyProtocol pp = config.proxyProtocol();
        ObjectNode proxy = n.putObject("proxyProtocol");
        proxy.put("mode", pp.mode().name().toLowerCase(java.util.Locale.ROOT));
        pp.trustedProxies().forEach(proxy.putArray("trustedProxies")::add);
        proxy.put("headerTimeout", Durations.format(pp.headerTimeout()));
        proxy.put("maxHeaderLength", pp.maxHeaderLength());
        IpLimits ip = config.ipLimits();
        ObjectNode limits = n.putObject("ipLimits");
        limits.put("maxConnPerIp", ip.maxConnPerIp());
        limits.put("connectionsPerSecondPerIp", ip.connectionsPerSecondPerIp());
        limits.put("burstPerIp", ip.burstPerIp());
        ip.allow().forEach(limits.putArray("allow")::add);
        ip.deny().forEach(limits.putArray("deny")::add);
        limits.put("maxTrackedIps", ip.maxTrackedIps());
        n.put("reusePort", config.reusePort());
        n.put("unixSocketPermissions", config.unixSocketPermissions());
        return n;
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
                case "outboundBudget" -> b.outboundBudget(longValue(field, v));
                case "backlog" -> b.backlog(integer(field, v));
                case "proxyProtocol" -> b.proxyProtocol(proxyProtocol(v, base.proxyProtocol()));
                case "ipLimits" -> b.ipLimits(ipLimits(v, base.ipLimits()));
                case "reusePort" -> b.reusePort(bool(field, v));
                case "unixSocketPermissions" -> b.unixSocketPermissions(text(field, v));
                case "tls" -> throw new IllegalArgumentException("tls: not read from JSON (key material, not text;"
                        + " expected: a TlsConfig in code, as the base: ServerConfigJson.read(file,"
                        + " ServerConfig.builder().tls(tls).build()), or config.toBuilder().tls(tls).build())");
                default -> throw new IllegalArgumentException(field + ": unknown field (expected one of "
                        + new java.util.TreeSet<>(FIELDS) + ")");
            }
        }
        return b.build(); // its messages already start with the field name
    }

    /**
     * The base's setting with this object's fields. A mode of {@code off} given here turns off the
     * base's header settings with it: a field only this object gives is refused when it refines
     * something off, not one it inherits from a base it has just switched off.
     */
    private static ProxyProtocol proxyProtocol(JsonNode node, ProxyProtocol base) {
        List<Map.Entry<String, JsonNode>> fields = object("proxyProtocol", node, PROXY_FIELDS);
        ProxyProtocol.Mode mode = base.mode();
        for (Map.Entry<String, JsonNode> e : fields) {
            if (e.getKey().equals("mode")) {
                mode = mode("proxyProtocol.mode", e.getValue());
            }
        }
        ProxyProtocol from = mode == ProxyProtocol.Mode.OFF ? ProxyProtocol.off() : base;
        List<String> trusted = from.trustedProxies();
        Duration timeout = from.headerTimeout();
        int maxLength = from.maxHeaderLength();
        for (Map.Entry<String, JsonNode> e : fields) {
            String field = "proxyProtocol." + e.getKey();
            JsonNode v = e.getValue();
            switch (e.getKey()) {
                case "mode" -> { } // read above
                case "trustedProxies" -> trusted = strings(field, v);
                case "headerTimeout" -> timeout = duration(field, v);
                default -> maxLength = integer(field, v);
            }
        }
        ProxyProtocol.Mode m = mode;
        List<String> t = trusted;
        Duration d = timeout;
        int l = maxLength;
        return nested("proxyProtocol", () -> new ProxyProtocol(m, t, d, l));
    }

    /**
     * The base's limits with this object's fields; as for {@link #proxyProtocol}, a limit turned off
     * here takes the base's refinements of it along (the rate its burst, both limits the table size).
     */
    private static IpLimits ipLimits(JsonNode node, IpLimits base) {
        IpLimits.Builder b = base.toBuilder();
        int maxConn = base.maxConnPerIp();
        double rate = base.connectionsPerSecondPerIp();
        Set<String> given = new java.util.HashSet<>();
        for (Map.Entry<String, JsonNode> e : object("ipLimits", node, IP_FIELDS)) {
            String field = "ipLimits." + e.getKey();
            JsonNode v = e.getValue();
            given.add(e.getKey());
            switch (e.getKey()) {
                case "maxConnPerIp" -> b.maxConnPerIp(maxConn = integer(field, v));
                case "connectionsPerSecondPerIp" -> b.connectionsPerSecondPerIp(rate = number(field, v));
                case "burstPerIp" -> b.burstPerIp(integer(field, v));
                case "allow" -> b.allow(strings(field, v));
                case "deny" -> b.deny(strings(field, v));
                default -> b.maxTrackedIps(integer(field, v));
            }
        }
        if (rate == 0 && !given.contains("burstPerIp")) {
            b.burstPerIp(0);
        }
        if (maxConn == 0 && rate == 0 && !given.contains("maxTrackedIps")) {
            b.maxTrackedIps(IpLimits.DEFAULT_MAX_TRACKED_IPS);
        }
        return nested("ipLimits", b::build);
    }

    /** The fields of a nested object, each one known. */
    private static List<Map.Entry<String, JsonNode>> object(String name, JsonNode node, Set<String> known) {
        if (!node.isObject()) {
            throw new IllegalArgumentException(name + ": " + node + " (expected: a JSON object)");
        }
        List<Map.Entry<String, JsonNode>> fields = new java.util.ArrayList<>(node.properties());
        for (Map.Entry<String, JsonNode> e : fields) {
            if (!known.contains(e.getKey())) {
                throw new IllegalArgumentException(name + "." + e.getKey() + ": unknown field (expected one of "
                        + new java.util.TreeSet<>(known) + ")");
            }
        }
        return fields;
    }

    /** Builds a nested value, prefixing its validation messages with the object's name. */
    private static <T> T nested(String name, java.util.function.Supplier<T> build) {
        try {
            return build.get();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(name + "." + e.getMessage(), e);
        }
    }

    private static ProxyProtocol.Mode mode(String field, JsonNode v) {
        String t = text(field, v);
        for (ProxyProtocol.Mode m : ProxyProtocol.Mode.values()) {
            if (m.name().equalsIgnoreCase(t)) {
                return m;
            }
        }
        throw new IllegalArgumentException(field + ": \"" + t + "\" (expected: off, required or optional)");
    }

    private static List<String> strings(String field, JsonNode v) {
        if (!v.isArray()) {
            throw new IllegalArgumentException(field + ": " + v + " (expected: an array of strings)");
        }
        List<String> out = new java.util.ArrayList<>();
        for (JsonNode item : v) {
            out.add(text(field, item));
        }
        return out;
    }

    /**
     * A number as a double; one that a double cannot hold is refused rather than rounded to 0 (a
     * tiny rate would become no limit at all) or to infinity. Its range is the field's own check.
     */
    private static double number(String field, JsonNode v) {
        if (!v.isNumber()) {
            throw new IllegalArgumentException(field + ": " + v + " (expected: a number)");
        }
        double d = v.doubleValue();
        if (Double.isInfinite(d) && !v.isDouble() || v.isBigDecimal() && d == 0 && v.decimalValue().signum() != 0) {
            throw new IllegalArgumentException(field + ": " + v + " (expected: a number a double holds, 0 or from "
                    + Double.MIN_VALUE + " to " + Double.MAX_VALUE + " in size; this one would be " + d + ")");
        }
        return d;
    }

    private static String text(String field, JsonNode v) {
        if (!v.isTextual()) {
            throw new IllegalArgumentException(field + ": " + v + " (expected: a string)");
        }
        return v.asText();
    }

    private static int integer(String field, JsonNode v) {
        requireIntegral(field, v, v.canConvertToInt(), Integer.MIN_VALUE, Integer.MAX_VALUE);
        return v.intValue();
    }

    private static long longValue(String field, JsonNode v) {
        requireIntegral(field, v, v.canConvertToLong(), Long.MIN_VALUE, Long.MAX_VALUE);
        return v.asLong();
    }

    /** An integer that fits the field's type; one that does not fit says the range, as it is an integer. */
    private static void requireIntegral(String field, JsonNode v, boolean fits, long min, long max) {
        if (!v.isIntegralNumber()) {
            throw new IllegalArgumentException(field + ": " + v + " (expected: an integer)");
        }
        if (!fits) {
            throw new IllegalArgumentException(field + ": " + v + " (expected: an integer from " + min + " to " + max + ")");
        }
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
        return malformed("server config", e.getLocation(), e.getOriginalMessage(), e);
    }

    /** {@code what: malformed JSON at line L, column C: why}, without the place when it is not known (null). */
    private static IllegalArgumentException malformed(String what, JsonLocation loc, String why, Throwable cause) {
        String where = loc == null ? "" : " at line " + loc.getLineNr() + ", column " + loc.getColumnNr();
        return new IllegalArgumentException(what + ": malformed JSON" + where + ": " + why, cause);
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
            return fromTree(value(p, "", ctxt::readTree), ServerConfig.defaults());
        }

        /**
         * A JSON null where a config is expected ({@code "server": null}) is refused by its field's
         * name, as a null {@code proxyProtocol} or {@code ipLimits} is: Jackson would otherwise give
         * the application a null config, never passed here.
         */
        @Override
        public ServerConfig getNullValue(DeserializationContext ctxt) {
            String field = ctxt.getParser() == null ? null : ctxt.getParser().getParsingContext().getCurrentName();
            throw new IllegalArgumentException((field == null ? "server config" : field)
                    + ": null (expected: a JSON object; {} for the defaults)");
        }

        /** An absent config is left to the application's class, as Jackson leaves any absent value (null). */
        @Override
        public Object getAbsentValue(DeserializationContext ctxt) {
            return null;
        }
    }

    private static final class ServerConfigSerializer extends StdSerializer<ServerConfig> {
        private static final long serialVersionUID = 1L;

        ServerConfigSerializer() {
            super(ServerConfig.class);
        }

        @Override
        public void serialize(ServerConfig value, JsonGenerator gen, SerializerProvider provider) throws IOException {
            gen.writeTree(toTree(value));
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
