package fulcrum.config;

import java.util.List;

/** What the backend is told about the client: X-Forwarded-*, Forwarded, X-Request-Id. */
public record ForwardedHeadersSettings(XffMode xForwardedFor, List<Cidr> trustedProxies, boolean forwarded,
                                       boolean requestId) {

    public enum XffMode { APPEND, REPLACE, REMOVE }

    public ForwardedHeadersSettings {
        trustedProxies = List.copyOf(trustedProxies);
    }

    static ForwardedHeadersSettings from(Reader r) {
        List<String> cidrs = r.strings("trusted-proxies");
        List<Cidr> trusted = new java.util.ArrayList<>();
        for (int i = 0; i < cidrs.size(); i++) {
            try {
                trusted.add(Cidr.parse(cidrs.get(i)));
            } catch (IllegalArgumentException e) {
                throw SettingsException.of(r.path("trusted-proxies") + "[" + i + "]", cidrs.get(i),
                                           "a CIDR such as 10.0.0.0/8: " + e.getMessage(),
                                           r.origin("trusted-proxies"));
            }
        }
        return new ForwardedHeadersSettings(r.enumeration("x-forwarded-for", XffMode.class), trusted,
                                            r.bool("forwarded"), r.bool("request-id"));
    }
}
