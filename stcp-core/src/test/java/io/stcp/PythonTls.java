package io.stcp;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A TLS 1.3 peer that writes records of its own: Python's {@code ssl} makes the handshake, and
 * OpenSSL's key log gives the peer its traffic secret, under which {@link #RECORDS}' Python code
 * seals whatever a test wants in a record — what no TLS library sends (hundreds of handshake
 * messages packed into one record, say). Needs a python3 with the {@code cryptography} package,
 * which CI installs ({@code python3-cryptography}).
 */
final class PythonTls {
    /**
     * Python that defines {@code Records(suite, keylog, label)}: the records of one direction, under
     * the secret the key log names {@code label} (e.g. {@code "CLIENT_TRAFFIC_SECRET_0 "});
     * {@code record(content, content_type, padding=0)} seals one, {@code update()} moves to the next
     * key, as a key update does. Imports {@code hashlib, hmac, struct} and the AEADs.
     */
    static final String RECORDS = """
            import hashlib, hmac, struct
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
            def expand_label(h, secret, label, length):
                full = b"tls13 " + label
                info = struct.pack(">HB", length, len(full)) + full + b"\\x00"
                out, t, i = b"", b"", 1
                while len(out) < length:
                    t = hmac.new(secret, t + info + bytes([i]), h).digest(); out += t; i += 1
                return out[:length]
            class Records:
                def __init__(self, suite, keylog, label):
                    self.h = hashlib.sha384 if suite.endswith("SHA384") else hashlib.sha256
                    self.size = 16 if "AES_128" in suite else 32
                    self.chacha = "CHACHA" in suite
                    self.secret = [bytes.fromhex(l.split()[2]) for l in open(keylog) if l.startswith(label)][-1]
                    self.keys()
                def keys(self):
                    k = expand_label(self.h, self.secret, b"key", self.size)
                    self.iv = expand_label(self.h, self.secret, b"iv", 12)
                    self.aead = ChaCha20Poly1305(k) if self.chacha else AESGCM(k)
                    self.seq = 0
                def update(self):
                    self.secret = expand_label(self.h, self.secret, b"traffic upd", self.h().digest_size)
                    self.keys()
                def record(self, content, content_type, padding=0):
                    inner = content + bytes([content_type]) + bytes(padding)
                    header = b"\\x17\\x03\\x03" + struct.pack(">H", len(inner) + 16)
                    nonce = bytes(a ^ b for a, b in zip(self.iv, self.seq.to_bytes(12, "big")))
                    self.seq += 1
                    return header + self.aead.encrypt(nonce, inner, header)
            """;

    private PythonTls() {}

    /** The python3 on the PATH if it has the cryptography package, else Debian's, or null. */
    static String python() throws Exception {
        for (String python : new String[] {"python3", "/usr/bin/python3"}) {
            boolean present = python.startsWith("/") ? Files.isExecutable(Path.of(python)) : UnixSocketTest.Tools.onPath(python);
            if (!present) {
                continue;
            }
            Process probe = new ProcessBuilder(python, "-c", "import cryptography.hazmat.primitives.ciphers.aead")
                    .redirectErrorStream(true).start();
            probe.getInputStream().readAllBytes();
            if (probe.waitFor(30, TimeUnit.SECONDS) && probe.exitValue() == 0) {
                return python;
            }
            probe.destroyForcibly();
        }
        return null;
    }

    /**
     * {@link #python()}, failing on CI where there must be one, else skipping the test without one.
     */
    static String requirePython() throws Exception {
        String python = python();
        if (python == null && UnixSocketTest.Tools.ci()) {
            throw new AssertionError("no python3 with the cryptography package and CI=true (.ci/run installs"
                    + " python3-cryptography): this test must run on CI");
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(python != null, "no python3 with the cryptography package: skipped");
        return python;
    }
}
