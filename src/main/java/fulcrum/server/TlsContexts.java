package fulcrum.server;

import fulcrum.config.ListenerSettings;
import fulcrum.config.TlsSettings;
import fulcrum.config.TlsSettings.CertificateSettings;
import io.netty.handler.codec.http2.Http2SecurityUtil;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import io.netty.util.DomainWildcardMappingBuilder;
import io.netty.util.Mapping;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLException;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * SslContexts of HTTPS listeners, built once at start: one per certificate, chosen by the
 * client's SNI name, the first for clients without one. OpenSSL (BoringSSL) when it loads, the
 * JDK's provider otherwise.
 */
final class TlsContexts {
    private static final Logger log = LoggerFactory.getLogger(TlsContexts.class);
    static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};

    private TlsContexts() {
    }

    static SslProvider provider() {
        return OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;
    }

    /** The provider in use, for the start-up log. */
    static String describeProvider() {
        if (OpenSsl.isAvailable()) {
            return "OpenSSL (" + OpenSsl.versionString() + ")";
        }
        return "JDK (OpenSSL unavailable: " + OpenSsl.unavailabilityCause() + ")";
    }

    /**
     * SNI name -> context; exact and wildcard names from each certificate, earlier certificates
     * first. ALPN offers {@code h2} before {@code http/1.1} when {@code http2}.
     */
    static Mapping<String, SslContext> sni(TlsSettings tls, boolean http2) {
        DomainWildcardMappingBuilder<SslContext> b = null;
        Set<String> taken = new HashSet<>();
        for (CertificateSettings c : tls.certificates()) {
            SslContext ctx = context(c, http2);
            if (b == null) {
                b = new DomainWildcardMappingBuilder<>(ctx);
            }
            for (String name : c.names()) {
                if (taken.add(name)) {
                    b.add(name, ctx);
                }
            }
        }
        if (b == null) {
            throw new IllegalArgumentException("no certificates");
        }
        return b.build();
    }

    private static SslContext context(CertificateSettings c, boolean http2) {
        String[] alpn = http2 ? new String[] {ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1}
                              : new String[] {ApplicationProtocolNames.HTTP_1_1};
        try {
            return SslContextBuilder.forServer(c.key(), c.chain())
                    .sslProvider(provider())
                    .protocols(PROTOCOLS)
                    .ciphers(Http2SecurityUtil.CIPHERS, SupportedCipherSuiteFilter.INSTANCE)
                    .applicationProtocolConfig(new ApplicationProtocolConfig(
                            ApplicationProtocolConfig.Protocol.ALPN,
                            ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                            alpn))
                    .build();
        } catch (SSLException e) {
            throw new IllegalStateException("certificate " + c.certFile() + " / key " + c.keyFile()
                                            + ": cannot be used for TLS: " + e.getMessage(), e);
        }
    }

    /**
     * Logs certificates that expire within their listener's expiry-warning: now, then once a day
     * on {@code loop}, so a forgotten renewal shows in the logs well before clients see it.
     */
    static ScheduledFuture<?> watchExpiry(EventExecutor loop, List<ListenerSettings> listeners) {
        Runnable check = () -> checkExpiry(listeners, Instant.now());
        check.run();
        return loop.scheduleAtFixedRate(check, 1, 1, TimeUnit.DAYS);
    }

    static int checkExpiry(List<ListenerSettings> listeners, Instant now) {
        int logged = 0;
        for (ListenerSettings l : listeners) {
            for (CertificateSettings c : l.tls().certificates()) {
                Instant notAfter = c.leaf().getNotAfter().toInstant();
                Duration left = Duration.between(now, notAfter);
                if (left.isNegative()) {
                    log.error("listener {}: certificate {} ({}) expired on {}", l.name(), c.certFile(), c.names(),
                              notAfter);
                    logged++;
                } else if (left.compareTo(l.tls().expiryWarning()) < 0) {
                    log.warn("listener {}: certificate {} ({}) expires on {}, in {} days", l.name(), c.certFile(),
                             c.names(), notAfter, left.toDays());
                    logged++;
                }
            }
        }
        return logged;
    }
}
