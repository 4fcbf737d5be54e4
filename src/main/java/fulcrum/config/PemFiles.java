package fulcrum.config;

import fulcrum.config.TlsSettings.CertificateSettings;

import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Date;
import java.util.List;
import java.util.Locale;

/** Reads and checks a PEM certificate chain and its PKCS#8 private key. */
final class PemFiles {
    private static final String BEGIN_KEY = "-----BEGIN PRIVATE KEY-----";
    private static final String END_KEY = "-----END PRIVATE KEY-----";

    private PemFiles() {
    }

    static CertificateSettings load(Reader r) {
        Path certFile = Path.of(r.string("cert"));
        Path keyFile = Path.of(r.string("key"));
        byte[] certBytes = read(r, "cert", certFile);
        byte[] keyBytes = read(r, "key", keyFile);
        List<X509Certificate> chain = certificates(r, certFile, certBytes);
        PrivateKey key = privateKey(r, keyFile, keyBytes);
        X509Certificate leaf = chain.get(0);
        if (!matches(key, leaf.getPublicKey())) {
            throw r.error("key", keyFile, "the private key of " + certFile + " (" + subject(leaf)
                                          + "); this key belongs to another certificate");
        }
        Date now = new Date();
        if (leaf.getNotAfter().before(now)) {
            throw r.error("cert", certFile, "a certificate valid now; " + subject(leaf) + " expired on "
                                            + leaf.getNotAfter().toInstant());
        }
        if (leaf.getNotBefore().after(now)) {
            throw r.error("cert", certFile, "a certificate valid now; " + subject(leaf) + " is valid from "
                                            + leaf.getNotBefore().toInstant());
        }
        List<String> names = names(leaf);
        if (names.isEmpty()) {
            throw r.error("cert", certFile, "a certificate with DNS names (subjectAltName or CN)");
        }
        return new CertificateSettings(certFile, keyFile, chain, key, names);
    }

    private static byte[] read(Reader r, String key, Path file) {
        if (!Files.isRegularFile(file)) {
            throw r.error(key, file, "a PEM file; there is no such file");
        }
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw r.error(key, file, "a readable PEM file: " + e.getMessage());
        }
    }

    private static List<X509Certificate> certificates(Reader r, Path file, byte[] pem) {
        Collection<? extends java.security.cert.Certificate> certs;
        try {
            certs = CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(pem));
        } catch (GeneralSecurityException e) {
            throw r.error("cert", file, "a PEM certificate (BEGIN CERTIFICATE): " + e.getMessage());
        }
        List<X509Certificate> out = new ArrayList<>();
        for (java.security.cert.Certificate c : certs) {
            out.add((X509Certificate) c);
        }
        if (out.isEmpty()) {
            throw r.error("cert", file, "a PEM certificate (BEGIN CERTIFICATE); the file has none");
        }
        return out;
    }

    private static PrivateKey privateKey(Reader r, Path file, byte[] pem) {
        String text = new String(pem, StandardCharsets.US_ASCII);
        int begin = text.indexOf(BEGIN_KEY);
        int end = text.indexOf(END_KEY);
        if (begin < 0 || end < begin) {
            String what = text.contains("BEGIN RSA PRIVATE KEY") || text.contains("BEGIN EC PRIVATE KEY")
                          ? "; this one is PKCS#1/SEC1: convert it with openssl pkcs8 -topk8 -nocrypt"
                          : text.contains("ENCRYPTED PRIVATE KEY") ? "; this one is encrypted" : "";
            throw r.error("key", file, "an unencrypted PKCS#8 PEM key (BEGIN PRIVATE KEY)" + what);
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(text.substring(begin + BEGIN_KEY.length(), end));
        } catch (IllegalArgumentException e) {
            throw r.error("key", file, "a PEM key with valid base64: " + e.getMessage());
        }
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
        for (String algorithm : List.of("RSA", "EC", "Ed25519", "Ed448", "DSA")) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(spec);
            } catch (GeneralSecurityException | IllegalArgumentException e) {
                // try the next algorithm
            }
        }
        throw r.error("key", file, "an RSA, EC or EdDSA private key");
    }

    /** Whether {@code key} signs what {@code pub} verifies: the one check that holds for every key type. */
    private static boolean matches(PrivateKey key, PublicKey pub) {
        String algorithm = switch (key.getAlgorithm().toUpperCase(Locale.ROOT)) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            case "DSA" -> "SHA256withDSA";
            default -> key.getAlgorithm(); // Ed25519, Ed448, EdDSA
        };
        if (!key.getAlgorithm().equalsIgnoreCase(pub.getAlgorithm())
            && !(key.getAlgorithm().startsWith("Ed") && pub.getAlgorithm().startsWith("Ed"))) {
            return false;
        }
        byte[] probe = new byte[32];
        new SecureRandom().nextBytes(probe);
        try {
            Signature s = Signature.getInstance(algorithm);
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(algorithm);
            v.initVerify(pub);
            v.update(probe);
            return v.verify(sig);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    /** DNS names from the subjectAltName extension, or the subject CN when there are none. */
    static List<String> names(X509Certificate cert) {
        List<String> out = new ArrayList<>();
        try {
            Collection<List<?>> sans = cert.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    if (san.size() >= 2 && Integer.valueOf(2).equals(san.get(0))) {
                        out.add(((String) san.get(1)).toLowerCase(Locale.ROOT));
                    }
                }
            }
        } catch (java.security.cert.CertificateParsingException e) {
            // no usable SANs: fall back to the CN
        }
        if (out.isEmpty()) {
            String cn = commonName(cert);
            if (cn != null) {
                out.add(cn.toLowerCase(Locale.ROOT));
            }
        }
        return out;
    }

    private static String commonName(X509Certificate cert) {
        try {
            for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    return String.valueOf(rdn.getValue());
                }
            }
        } catch (InvalidNameException e) {
            return null;
        }
        return null;
    }

    private static String subject(X509Certificate cert) {
        return cert.getSubjectX500Principal().getName();
    }
}
