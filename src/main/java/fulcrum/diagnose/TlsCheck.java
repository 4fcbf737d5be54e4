package fulcrum.diagnose;

import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;

/**
 * The listener's TLS as a client sees it: the certificate chain against the system's trust store
 * (or {@code --cacert}), its dates, whether it names the host, and ALPN: what the server picks
 * when offered h2 and http/1.1, and that it takes http/1.1 alone (Socket.IO clients' WebSockets
 * are HTTP/1.1).
 */
final class TlsCheck {
    private static final long WARN_DAYS = 14;

    private final Wire wire;
    private final Path caCerts;

    TlsCheck(Wire wire, Path caCerts) {
        this.wire = wire;
        this.caCerts = caCerts;
    }

    Result run() {
        String host = wire.endpoint().host();
        String title = "TLS " + wire.endpoint().authority();
        List<String> details = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        X509Certificate[] chain;
        String alpn;
        try (Socket s = wire.connect(Duration.ofSeconds(10), "h2", "http/1.1")) {
            SSLSession session = ((SSLSocket) s).getSession();
            Certificate[] peer = session.getPeerCertificates();
            chain = new X509Certificate[peer.length];
            for (int i = 0; i < peer.length; i++) {
                chain[i] = (X509Certificate) peer[i];
            }
            alpn = ((SSLSocket) s).getApplicationProtocol();
            details.add(session.getProtocol() + ", " + session.getCipherSuite());
        } catch (IOException e) {
            return Result.fail(title, "TLS handshake failed: " + Client.describe(e), List.of(), Fixes.TLS);
        }
        X509Certificate leaf = chain[0];
        details.add("certificate " + leaf.getSubjectX500Principal().getName() + ", names " + names(leaf)
                    + ", issued by " + leaf.getIssuerX500Principal().getName() + ", " + chain.length
                    + (chain.length == 1 ? " certificate" : " certificates") + " sent");
        Instant notAfter = leaf.getNotAfter().toInstant();
        long days = Duration.between(Instant.now(), notAfter).toDays();
        if (Instant.now().isAfter(notAfter)) {
            problems.add("expired on " + notAfter);
        } else if (Instant.now().isBefore(leaf.getNotBefore().toInstant())) {
            problems.add("not valid before " + leaf.getNotBefore().toInstant());
        } else if (days < WARN_DAYS) {
            warnings.add("expires in " + days + " days (" + notAfter + ")");
        } else {
            details.add("valid until " + notAfter + " (" + days + " days)");
        }
        if (!matches(leaf, host)) {
            problems.add("does not name " + host + " (names " + names(leaf) + ")");
        }
        try {
            trustManager().checkServerTrusted(chain, "UNKNOWN");
            details.add("chain trusted by " + (caCerts == null ? "the system's trust store" : caCerts));
        } catch (CertificateException e) {
            problems.add("chain not trusted by " + (caCerts == null ? "the system's trust store" : caCerts)
                         + ": " + rootCause(e) + (chain.length == 1 ? " (no intermediate certificates sent)" : ""));
        } catch (GeneralSecurityException | IOException e) {
            return Result.fail(title, "cannot read trusted certificates: " + e.getMessage(), details, List.of());
        }
        details.add("ALPN offered h2, http/1.1: server chose " + (alpn == null || alpn.isEmpty() ? "none (HTTP/1.1)" : alpn));
        try (Socket s = wire.connect(Duration.ofSeconds(10), "http/1.1")) {
            String only = ((SSLSocket) s).getApplicationProtocol();
            details.add("ALPN offered http/1.1 alone: server chose " + (only == null || only.isEmpty() ? "none (HTTP/1.1)" : only));
        } catch (IOException e) {
            problems.add("refuses a client that offers only http/1.1: " + Client.describe(e));
            details.addAll(0, problems);
            return Result.fail(title, "no HTTP/1.1 over TLS", details, Fixes.ALPN);
        }
        if (!problems.isEmpty()) {
            details.addAll(0, problems);
            return Result.fail(title, "the certificate " + String.join("; ", problems), details, Fixes.TLS);
        }
        if (!warnings.isEmpty()) {
            return Result.warn(title, "the certificate " + String.join("; ", warnings), details, Fixes.TLS);
        }
        return Result.pass(title, "certificate valid for " + host + ", trusted; HTTP/1.1 offered", details);
    }

    private X509TrustManager trustManager() throws GeneralSecurityException, IOException {
        TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        if (caCerts == null) {
            f.init((KeyStore) null);
        } else {
            KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
            ks.load(null, null);
            try (InputStream in = Files.newInputStream(caCerts)) {
                Collection<? extends Certificate> certs = CertificateFactory.getInstance("X.509").generateCertificates(in);
                if (certs.isEmpty()) {
                    throw new CertificateException(caCerts + " holds no PEM certificate");
                }
                int i = 0;
                for (Certificate c : certs) {
                    ks.setCertificateEntry("ca" + i++, c);
                }
            }
            f.init(ks);
        }
        for (TrustManager tm : f.getTrustManagers()) {
            if (tm instanceof X509TrustManager x) {
                return x;
            }
        }
        throw new GeneralSecurityException("no X509TrustManager");
    }

    /** RFC 6125: subjectAltName only, one left-most wildcard label; an IP host matches an IP entry. */
    static boolean matches(X509Certificate cert, String host) {
        String h = host.toLowerCase(Locale.ROOT);
        boolean ip = h.contains(":") || h.matches("[0-9.]+");
        for (List<?> san : sans(cert)) {
            int type = (Integer) san.get(0);
            String value = String.valueOf(san.get(1)).toLowerCase(Locale.ROOT);
            if (ip && type == 7 && sameAddress(value, h)) {
                return true;
            }
            if (!ip && type == 2 && dnsMatches(value, h)) {
                return true;
            }
        }
        return false;
    }

    private static boolean dnsMatches(String pattern, String host) {
        if (!pattern.startsWith("*.")) {
            return pattern.equals(host);
        }
        int dot = host.indexOf('.');
        return dot > 0 && host.substring(dot + 1).equals(pattern.substring(2));
    }

    private static boolean sameAddress(String a, String b) {
        try {
            return InetAddress.getByName(a).equals(InetAddress.getByName(b));
        } catch (IOException e) {
            return false;
        }
    }

    private static List<List<?>> sans(X509Certificate cert) {
        try {
            Collection<List<?>> s = cert.getSubjectAlternativeNames();
            return s == null ? List.of() : new ArrayList<>(s);
        } catch (CertificateException e) {
            return List.of();
        }
    }

    private static String names(X509Certificate cert) {
        List<String> n = new ArrayList<>();
        for (List<?> san : sans(cert)) {
            n.add(String.valueOf(san.get(1)));
        }
        return n.isEmpty() ? "[none]" : n.toString();
    }

    private static String rootCause(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t.getMessage();
    }
}
