package fulcrum.proxy;

import io.netty.channel.Channel;
import io.netty.handler.ssl.CipherSuiteConverter;
import io.netty.handler.ssl.SslHandler;

import javax.net.ssl.SSLSession;
import java.net.InetSocketAddress;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;

/**
 * What the access log says about a client connection: its id, the port it came in on, and for
 * TLS the protocol, cipher (in OpenSSL's names, as ALB logs them), the SNI name the client sent
 * and the certificate it was shown. Made once per connection, after the handshake.
 *
 * @param tlsProtocol null on plain HTTP; likewise {@code cipher}, {@code sni} (also null when
 *        the client sent none) and {@code certificate} (the subject of the certificate shown)
 */
public record ConnectionFacts(String id, String localHost, int localPort, String tlsProtocol, String cipher,
                              String sni, String certificate) {

    public boolean tls() {
        return tlsProtocol != null;
    }

    /** The facts of {@code ch}, whose client sent {@code sni} (null: none, or plain HTTP). */
    static ConnectionFacts of(Channel ch, String sni) {
        InetSocketAddress local = ch.localAddress() instanceof InetSocketAddress a ? a : null;
        int port = local == null ? 0 : local.getPort();
        String host = local == null || local.getAddress() == null ? null : hostText(local.getAddress());
        String id = ch.id().asShortText();
        SslHandler ssl = ch.pipeline().get(SslHandler.class);
        if (ssl == null) {
            return new ConnectionFacts(id, host, port, null, null, null, null);
        }
        SSLSession session = ssl.engine().getSession();
        String javaCipher = session.getCipherSuite();
        String cipher = javaCipher == null ? null : CipherSuiteConverter.toOpenSsl(javaCipher, false);
        return new ConnectionFacts(id, host, port, session.getProtocol(), cipher != null ? cipher : javaCipher, sni,
                                   subject(session.getLocalCertificates()));
    }

    /** An address as a URL's host: IPv6 in brackets. */
    private static String hostText(java.net.InetAddress a) {
        String s = a.getHostAddress();
        return s.indexOf(':') >= 0 ? "[" + s + "]" : s;
    }

    private static String subject(Certificate[] chain) {
        if (chain == null || chain.length == 0 || !(chain[0] instanceof X509Certificate c)) {
            return null;
        }
        return c.getSubjectX500Principal().getName();
    }
}
