package io.stcp.internal;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A small PEM reader on the JDK's own {@link CertificateFactory} and {@link KeyFactory}: X.509
 * certificates ({@code CERTIFICATE} blocks, any text between them ignored, as {@code openssl}
 * writes it) and private keys in PKCS#8 ({@code PRIVATE KEY}: RSA, EC, Ed25519, Ed448, RSASSA-PSS)
 * or PKCS#1 ({@code RSA PRIVATE KEY}). Encrypted keys (PKCS#8 {@code ENCRYPTED PRIVATE KEY}, or a
 * traditional key with {@code Proc-Type: 4,ENCRYPTED}) and SEC1 EC keys are refused with the
 * {@code openssl} command that converts them; broken base64, and a block that is not whole (the
 * file cut short inside it), are refused naming the file, never skipped.
 */
public final class Pem {
    // A block: its label, the RFC 1421 headers of a traditional OpenSSL key ("Proc-Type: 4,ENCRYPTED"), the base64.
    private static final Pattern BLOCK = Pattern.compile(
            "-----BEGIN ([A-Z0-9 ]+)-----\\s*((?:[A-Za-z][A-Za-z0-9-]*:[^\\r\\n]*\\R\\s*)*)([A-Za-z0-9+/=\\s]*?)-----END \\1-----");
    private static final String BEGIN = "-----BEGIN ";
    private static final String[] KEY_ALGORITHMS = {"RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS", "XDH"};
    private static final String TO_PKCS8 = "convert it with: openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pkcs8.pem";

    private Pem() {}

    /**
     * A block of a PEM file: its label ({@code CERTIFICATE}, {@code PRIVATE KEY}...), its headers
     * (empty but in a traditional OpenSSL key) and its base64 text, decoded by {@link #der}.
     */
    record Block(String label, String headers, String base64) {
        /** Whether its headers say it is encrypted: {@code Proc-Type: 4,ENCRYPTED}. */
        boolean isEncrypted() {
            return headers.contains("ENCRYPTED");
        }

        /**
         * Its bytes.
         *
         * @throws GeneralSecurityException naming {@code source} and the block if the base64 is broken
         */
        byte[] der(String source) throws GeneralSecurityException {
            try {
                return Base64.getMimeDecoder().decode(base64);
            } catch (IllegalArgumentException e) {
                throw new GeneralSecurityException(source + ": the \"" + label + "\" block is not valid base64: "
                        + e.getMessage(), e);
            }
        }
    }

    /**
     * The blocks of {@code text}, in order. Every {@code -----BEGIN } line must begin a whole block:
     * one that does not — the file ends inside it (cut short, or still being written when a watch
     * read it), or it holds a character that is not base64 — is refused naming {@code source},
     * never skipped, which would leave a chain without its last certificates or a bundle without
     * some of its CAs.
     *
     * @throws GeneralSecurityException naming {@code source} and the block that is not whole
     */
    static List<Block> blocks(String text, String source) throws GeneralSecurityException {
        List<Block> blocks = new ArrayList<>();
        Matcher m = BLOCK.matcher(text);
        int at = text.indexOf(BEGIN);
        while (at >= 0) {
            m.region(at, text.length());
            if (!m.lookingAt()) {
                throw notWhole(text, at, source, blocks.size() + 1);
            }
            blocks.add(new Block(m.group(1), m.group(2), m.group(3)));
            at = text.indexOf(BEGIN, m.end());
        }
        return blocks;
    }

    /** Why the block at {@code at}, the {@code n}th, is not whole: its END line is missing, or something else is wrong. */
    private static GeneralSecurityException notWhole(String text, int at, String source, int n) {
        int lineEnd = text.indexOf('\n', at);
        String line = text.substring(at, lineEnd < 0 ? text.length() : lineEnd).strip();
        int dashes = line.indexOf("-----", BEGIN.length());
        String label = dashes < 0 ? line.substring(BEGIN.length()) : line.substring(BEGIN.length(), dashes);
        int next = text.indexOf(BEGIN, at + BEGIN.length());
        String block = text.substring(at, next < 0 ? text.length() : next);
        String why = block.contains("-----END " + label + "-----")
                ? "holds something that is not base64 (expected: only base64 lines between its BEGIN and END lines)"
                : "has no \"-----END " + label + "-----\" line: the file ends inside it (cut short, or read while"
                        + " it was being written)";
        return new GeneralSecurityException(source + ": block " + n + " (\"" + line + "\") " + why);
    }

    /**
     * The certificates of a PEM file, in file order (a chain: the leaf first).
     *
     * @throws GeneralSecurityException naming the file if it holds none, or one cannot be parsed
     */
    public static List<X509Certificate> certificates(Path file) throws IOException, GeneralSecurityException {
        return certificates(read(file), file.toString());
    }

    /**
     * The text of a PEM file, every byte one character: the blocks are ASCII, but the text around
     * them may be anything — curl's CA bundle names its CAs in UTF-8 ("NetLock Arany (Class Gold)
     * Főtanúsítvány"), an editor may put a byte order mark first — and is ignored.
     */
    private static String read(Path file) throws IOException {
        return new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
    }

    static List<X509Certificate> certificates(String text, String source) throws GeneralSecurityException {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        List<X509Certificate> certs = new ArrayList<>();
        for (Block b : blocks(text, source)) {
            if (b.label().equals("CERTIFICATE") || b.label().equals("TRUSTED CERTIFICATE")) {
                try {
                    certs.add((X509Certificate) cf.generateCertificate(new ByteArrayInputStream(b.der(source))));
                } catch (CertificateException e) {
                    throw new CertificateException(source + ": certificate " + (certs.size() + 1)
                            + " cannot be parsed: " + e.getMessage(), e);
                }
            }
        }
        if (certs.isEmpty()) {
            throw new CertificateException(source + ": no \"-----BEGIN CERTIFICATE-----\" block");
        }
        return certs;
    }

    /**
     * The private key of a PEM file: its first key block.
     *
     * @throws GeneralSecurityException naming the file if it holds no usable key
     */
    public static PrivateKey privateKey(Path file) throws IOException, GeneralSecurityException {
        return privateKey(read(file), file.toString());
    }

    static PrivateKey privateKey(String text, String source) throws GeneralSecurityException {
        for (Block b : blocks(text, source)) {
            if (b.isEncrypted() && b.label().endsWith("PRIVATE KEY")) {
                throw new InvalidKeySpecException(source + ": the private key is encrypted (\"" + b.label()
                        + "\" with \"Proc-Type: 4,ENCRYPTED\"; expected: an unencrypted PKCS#8 key); " + TO_PKCS8);
            }
            switch (b.label()) {
                case "PRIVATE KEY" -> {
                    return pkcs8(b.der(source), source);
                }
                case "RSA PRIVATE KEY" -> {
                    return pkcs8(rsaPkcs1ToPkcs8(b.der(source)), source);
                }
                case "ENCRYPTED PRIVATE KEY" -> throw new InvalidKeySpecException(source
                        + ": the private key is encrypted (expected: an unencrypted PKCS#8 key); " + TO_PKCS8);
                case "EC PRIVATE KEY" -> throw new InvalidKeySpecException(source
                        + ": an SEC1 \"EC PRIVATE KEY\" (expected: PKCS#8, \"PRIVATE KEY\"); " + TO_PKCS8);
                default -> {
                    // certificates and parameters may share the file: skip them
                }
            }
        }
        throw new InvalidKeySpecException(source + ": no \"-----BEGIN PRIVATE KEY-----\" block");
    }

    private static PrivateKey pkcs8(byte[] der, String source) throws GeneralSecurityException {
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
        for (String algorithm : KEY_ALGORITHMS) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(spec);
            } catch (InvalidKeySpecException | java.security.NoSuchAlgorithmException e) {
                // not this algorithm
            }
        }
        throw new InvalidKeySpecException(source + ": a PKCS#8 key of an algorithm this JDK cannot read"
                + " (expected: RSA, EC, Ed25519, Ed448 or RSASSA-PSS)");
    }

    /**
     * Wraps a PKCS#1 RSAPrivateKey in a PKCS#8 PrivateKeyInfo:
     * {@code SEQUENCE { INTEGER 0, SEQUENCE { OID rsaEncryption, NULL }, OCTET STRING pkcs1 }}.
     */
    static byte[] rsaPkcs1ToPkcs8(byte[] pkcs1) {
        byte[] version = {0x02, 0x01, 0x00};
        byte[] algorithm = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01,
                0x01, 0x01, 0x05, 0x00};
        byte[] octets = tlv(0x04, pkcs1);
        byte[] body = new byte[version.length + algorithm.length + octets.length];
        System.arraycopy(version, 0, body, 0, version.length);
        System.arraycopy(algorithm, 0, body, version.length, algorithm.length);
        System.arraycopy(octets, 0, body, version.length + algorithm.length, octets.length);
        return tlv(0x30, body);
    }

    private static byte[] tlv(int tag, byte[] value) {
        int n = value.length;
        int lengthBytes = n < 0x80 ? 0 : n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1000000 ? 3 : 4;
        byte[] out = new byte[2 + lengthBytes + n];
        out[0] = (byte) tag;
        if (lengthBytes == 0) {
            out[1] = (byte) n;
        } else {
            out[1] = (byte) (0x80 | lengthBytes);
            for (int i = 0; i < lengthBytes; i++) {
                out[2 + i] = (byte) (n >>> (8 * (lengthBytes - 1 - i)));
            }
        }
        System.arraycopy(value, 0, out, 2 + lengthBytes, n);
        return out;
    }

    /**
     * Checks that {@code key} is the private half of the first certificate of {@code chain}: the
     * leaf's, which TLS sends first. When it is the half of a later one, the chain is in the wrong
     * order (the CA first, as some bundles are written), and the message says so rather than that
     * the key does not match.
     *
     * @throws InvalidKeySpecException if the key is not the first certificate's
     */
    public static void checkLeafPair(PrivateKey key, List<X509Certificate> chain, String source)
            throws GeneralSecurityException {
        try {
            checkPair(key, chain.get(0), source);
        } catch (InvalidKeySpecException mismatch) {
            for (int i = 1; i < chain.size(); i++) {
                if (isPair(key, chain.get(i), source)) {
                    throw new InvalidKeySpecException(source + ": the certificates are out of order: the key's, "
                            + chain.get(i).getSubjectX500Principal().getName() + ", is certificate " + (i + 1) + " of "
                            + chain.size() + " (expected: it first, then the one that issued it, and so on)");
                }
            }
            throw mismatch;
        }
    }

    /**
     * Checks that each certificate of {@code chain} is followed by the one that issued it, by name,
     * and that none comes twice: what the key store that holds the chain demands, which refuses it
     * otherwise saying only "Certificate chain is not valid". A chain with a stale intermediate,
     * or one of another CA, is refused naming the file and the two certificates.
     *
     * @throws CertificateException if a certificate is not followed by its issuer, or repeats one
     */
    public static void checkLinks(List<X509Certificate> chain, String source) throws CertificateException {
        for (int i = 0; i + 1 < chain.size(); i++) {
            X509Certificate cert = chain.get(i);
            X509Certificate next = chain.get(i + 1);
            if (!cert.getIssuerX500Principal().equals(next.getSubjectX500Principal())) {
                throw new CertificateException(source + ": certificate " + (i + 2) + " of " + chain.size() + ", "
                        + next.getSubjectX500Principal().getName() + ", did not issue certificate " + (i + 1) + ", "
                        + cert.getSubjectX500Principal().getName() + ", whose issuer is "
                        + cert.getIssuerX500Principal().getName()
                        + " (expected: each certificate followed by the one that issued it)");
            }
            int earlier = chain.subList(0, i + 1).indexOf(next);
            if (earlier >= 0) {
                throw new CertificateException(source + ": certificate " + (i + 2) + " of " + chain.size()
                        + " repeats certificate " + (earlier + 1) + " (expected: each certificate once)");
            }
        }
    }

    private static boolean isPair(PrivateKey key, X509Certificate certificate, String source)
            throws GeneralSecurityException {
        try {
            checkPair(key, certificate, source);
            return true;
        } catch (InvalidKeySpecException e) {
            return false;
        }
    }

    /**
     * Checks that {@code key} is the private half of {@code certificate}'s public key, by signing
     * a message and verifying the signature.
     *
     * @throws InvalidKeySpecException if they do not match
     */
    public static void checkPair(PrivateKey key, X509Certificate certificate, String source)
            throws GeneralSecurityException {
        PublicKey pub = certificate.getPublicKey();
        String algorithm = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            case "Ed25519", "Ed448", "EdDSA" -> key.getAlgorithm();
            default -> null; // RSASSA-PSS needs parameters; the handshake will tell
        };
        if (algorithm == null) {
            return;
        }
        if (!pub.getAlgorithm().equals(key.getAlgorithm())) {
            throw new InvalidKeySpecException(source + ": the private key (" + key.getAlgorithm()
                    + ") does not match the certificate's public key (" + pub.getAlgorithm() + ")");
        }
        byte[] message = "stcp key check".getBytes(StandardCharsets.US_ASCII);
        Signature signer = Signature.getInstance(algorithm);
        signer.initSign(key);
        signer.update(message);
        byte[] signature = signer.sign();
        Signature verifier = Signature.getInstance(algorithm);
        verifier.initVerify(pub);
        verifier.update(message);
        if (!verifier.verify(signature)) {
            throw new InvalidKeySpecException(source + ": the private key does not match the certificate "
                    + certificate.getSubjectX500Principal().getName());
        }
    }
}
