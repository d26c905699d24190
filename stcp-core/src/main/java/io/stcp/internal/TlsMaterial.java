package io.stcp.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.jspecify.annotations.Nullable;

/**
 * Where a {@link RealTlsConfig}'s key and trust material comes from — a PEM certificate chain and
 * key, a key store file or object, none (a client without a certificate of its own); a PEM CA
 * bundle, a trust store, or the JDK's CAs — and how it is read into a new {@link SSLContext}
 * ({@link #load}) and watched for changes ({@link #stamps}).
 *
 * <p>Immutable and thread-safe; every {@link #load} reads the files again. A config built from a
 * ready {@link SSLContext} has no material: all of it null.
 */
final class TlsMaterial {
    private static final char[] IN_MEMORY_PASSWORD = "stcp".toCharArray();

    private final Path certificateChain;   // null unless PEM
    private final Path privateKey;
    private final KeyStore keyStore;       // null unless a key store object
    private final Path keyStoreFile;       // null unless a key store file
    private final char[] keyStorePassword;
    private final Path trustPem;           // null unless a PEM CA bundle
    private final KeyStore trustStore;     // null unless a trust store

    /** The sources, at most one of each kind set (checked by {@link RealTlsConfig}); the password is copied. */
    TlsMaterial(Path certificateChain, Path privateKey, KeyStore keyStore, Path keyStoreFile, char[] keyStorePassword,
                Path trustPem, KeyStore trustStore) {
        this.certificateChain = certificateChain;
        this.privateKey = privateKey;
        this.keyStore = keyStore;
        this.keyStoreFile = keyStoreFile;
        this.keyStorePassword = keyStorePassword == null ? null : keyStorePassword.clone();
        this.trustPem = trustPem;
        this.trustStore = trustStore;
    }

    /** Builds a context from the files or key store; a client without key material presents no certificate. */
    SSLContext load() throws IOException, GeneralSecurityException {
        KeyStore keys;
        char[] password;
        if (certificateChain == null && keyStoreFile == null && keyStore == null) {
            keys = null; // a client without a certificate of its own
            password = null;
        } else if (certificateChain != null) {
            List<X509Certificate> chain = Pem.certificates(certificateChain);
            PrivateKey key = Pem.privateKey(privateKey);
            Pem.checkLeafPair(key, chain, privateKey + " and " + certificateChain);
            Pem.checkLinks(chain, certificateChain.toString());
            keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            keys.setKeyEntry("server", key, IN_MEMORY_PASSWORD, chain.toArray(new Certificate[0]));
            password = IN_MEMORY_PASSWORD;
        } else if (keyStoreFile != null) {
            keys = KeyStore.getInstance(keyStoreFile.toFile(), keyStorePassword);
            password = keyStorePassword;
        } else {
            keys = keyStore;
            password = keyStorePassword;
        }
        KeyManagerFactory kmf = null;
        if (keys != null) {
            kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, password);
        }
        TrustManagerFactory tmf = null;
        KeyStore trust = trustStore;
        if (trustPem != null) {
            trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            int i = 0;
            for (X509Certificate ca : Pem.certificates(trustPem)) {
                trust.setCertificateEntry("ca-" + i++, ca);
            }
        }
        if (trust != null) {
            tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
        }
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf == null ? null : tmf.getTrustManagers(), null); // null: the JDK's CAs
        return ctx;
    }

    /** The files read: what a watch polls. */
    List<Path> files() {
        List<Path> files = new ArrayList<>();
        for (Path p : new Path[] {certificateChain, privateKey, keyStoreFile, trustPem}) {
            if (p != null && !files.contains(p)) {
                files.add(p);
            }
        }
        return files;
    }

    /** Last-modified time and size of each file, following links; missing files stamp as -1. */
    List<FileStamp> stamps() {
        List<FileStamp> stamps = new ArrayList<>();
        for (Path p : files()) {
            FileTime modified = null;
            long size = -1;
            try {
                modified = Files.getLastModifiedTime(p); // as precise as the file system keeps it: a rewrite within a millisecond still differs
                size = Files.size(p);
            } catch (IOException e) {
                // missing for now (being replaced): a stamp of its own
            }
            stamps.add(new FileStamp(p, modified, size));
        }
        return stamps;
    }

    /** One file's state as a watch compares it. */
    record FileStamp(Path file, @Nullable FileTime modified, long size) {}

    /** The key material in a description: {@code pem=FILE}, {@code keyStore=FILE}, {@code keyStore} or none. */
    String keySource() {
        return certificateChain != null ? "pem=" + certificateChain : keyStoreFile != null ? "keyStore=" + keyStoreFile
                : keyStore != null ? "keyStore" : "no certificate";
    }

    /** The trust material in a description: the CA bundle's file, {@code trustStore} or {@code JDK CAs}. */
    String trustSource() {
        return trustPem != null ? trustPem.toString() : trustStore != null ? "trustStore" : "JDK CAs";
    }
}
