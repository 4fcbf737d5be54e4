package fulcrum.config;

import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A listener's TLS termination: its certificates, read and checked at start (present, readable,
 * key matching, not expired) so that a broken file stops the balancer with its name.
 */
public record TlsSettings(List<CertificateSettings> certificates, Duration expiryWarning) {

    public TlsSettings {
        certificates = List.copyOf(certificates);
    }

    public boolean enabled() {
        return !certificates.isEmpty();
    }

    /**
     * One certificate: its files, the chain (leaf first) and key read from them, and the DNS
     * names (SANs, or the CN without any) that SNI chooses it by.
     */
    public record CertificateSettings(Path certFile, Path keyFile, List<X509Certificate> chain, PrivateKey key,
                                      List<String> names) {
        public CertificateSettings {
            chain = List.copyOf(chain);
            names = List.copyOf(names);
        }

        public X509Certificate leaf() {
            return chain.get(0);
        }
    }

    static TlsSettings from(Reader r) {
        List<CertificateSettings> certs = new ArrayList<>();
        int i = 0;
        for (ConfigValue v : r.list("certificates")) {
            String key = r.path("certificates") + "[" + i++ + "]";
            if (v.valueType() != ConfigValueType.OBJECT) {
                throw SettingsException.of(key, v.render(), "{ cert = \"file.pem\", key = \"file.key\" }", v.origin());
            }
            ConfigObject o = (ConfigObject) v;
            for (String k : o.keySet()) {
                if (!k.equals("cert") && !k.equals("key")) {
                    throw SettingsException.of(key + "." + k, o.get(k).render(),
                                               "a known key; this one is unknown, known here: cert, key",
                                               o.get(k).origin());
                }
            }
            Reader cr = new Reader(o.toConfig(), key);
            certs.add(PemFiles.load(cr));
        }
        return new TlsSettings(certs, r.duration("expiry-warning", true));
    }
}
