package fulcrum.diagnose;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Blocking HTTP/1.1 over one new connection per request. A balancer may pick a server per request
 * (ALB, HAProxy, nginx, Fulcrum) or per connection (a TCP balancer); a browser polls over two or
 * more connections. A new connection each time is the case where a missing stickiness shows.
 * Plain sockets rather than java.net.http: the diagnosis needs the bytes the server sent (the
 * 101's fields, the first WebSocket frames) and fields HttpClient refuses to set (Connection, Upgrade).
 */
final class Wire {
    private static final int MAX_HEAD = 64 * 1024;
    private static final int MAX_BODY = 4 * 1024 * 1024;

    private final Endpoint endpoint;
    private final SSLContext tls;
    private final Duration connectTimeout;
    private final List<String[]> extraHeaders;
    private final String userAgent;

    Wire(Endpoint endpoint, Duration connectTimeout, List<String[]> extraHeaders, String userAgent) {
        this.endpoint = endpoint;
        this.connectTimeout = connectTimeout;
        this.extraHeaders = List.copyOf(extraHeaders);
        this.userAgent = userAgent;
        this.tls = endpoint.tls() ? trustingAll() : null;
    }

    Endpoint endpoint() {
        return endpoint;
    }

    /** One connection. Certificates were judged by the TLS check; here any is taken, so later checks run. */
    Socket connect(Duration readTimeout, String... alpn) throws IOException {
        Socket s = new Socket();
        try {
            s.connect(new InetSocketAddress(endpoint.host(), endpoint.port()), (int) connectTimeout.toMillis());
            s.setTcpNoDelay(true);
            s.setSoTimeout((int) readTimeout.toMillis());
            if (tls == null) {
                return s;
            }
            SSLSocket t = (SSLSocket) tls.getSocketFactory().createSocket(s, endpoint.host(), endpoint.port(), true);
            SSLParameters p = t.getSSLParameters();
            if (!endpoint.hostIsAddress()) {
                p.setServerNames(List.of(new SNIHostName(endpoint.host())));
            }
            p.setApplicationProtocols(alpn.length == 0 ? new String[] {"http/1.1"} : alpn);
            t.setSSLParameters(p);
            t.startHandshake();
            return t;
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /** Sends a request with {@code Connection: close} on a new connection and reads the whole response. */
    HttpResponse request(String method, String target, Map<String, String> headers, String body,
                         Duration readTimeout) throws IOException {
        long start = System.nanoTime();
        try (Socket s = connect(readTimeout)) {
            Map<String, String> h = new java.util.LinkedHashMap<>(headers);
            h.putIfAbsent("Connection", "close");
            write(s.getOutputStream(), method, target, h, body);
            return read(new BufferedInputStream(s.getInputStream()), method.equals("HEAD"), start);
        }
    }

    /** Sends an upgrade request; on 101 the open connection is returned in the result, else closed. */
    Upgraded upgrade(String target, Map<String, String> headers, Duration readTimeout) throws IOException {
        long start = System.nanoTime();
        Socket s = connect(readTimeout);
        try {
            String key = WebSocket.newKey();
            Map<String, String> h = new java.util.LinkedHashMap<>(headers);
            h.put("Connection", "Upgrade");
            h.put("Upgrade", "websocket");
            h.put("Sec-WebSocket-Version", "13");
            h.put("Sec-WebSocket-Key", key);
            write(s.getOutputStream(), "GET", target, h, null);
            InputStream in = new BufferedInputStream(s.getInputStream());
            HttpResponse r = read(in, false, start);
            if (r.status() != 101) {
                s.close();
                return new Upgraded(r, key, null);
            }
            return new Upgraded(r, key, new WebSocket(s, in));
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    record Upgraded(HttpResponse response, String key, WebSocket socket) {
    }

    private void write(OutputStream raw, String method, String target, Map<String, String> headers, String body)
            throws IOException {
        StringBuilder b = new StringBuilder(256);
        b.append(method).append(' ').append(target).append(" HTTP/1.1\r\n");
        b.append("Host: ").append(endpoint.authority()).append("\r\n");
        b.append("User-Agent: ").append(userAgent).append("\r\n");
        b.append("Accept: */*\r\n");
        for (Map.Entry<String, String> e : headers.entrySet()) {
            b.append(e.getKey()).append(": ").append(e.getValue()).append("\r\n");
        }
        for (String[] e : extraHeaders) {
            b.append(e[0]).append(": ").append(e[1]).append("\r\n");
        }
        byte[] payload = body == null ? null : body.getBytes(StandardCharsets.UTF_8);
        if (payload != null) {
            b.append("Content-Length: ").append(payload.length).append("\r\n");
        }
        b.append("\r\n");
        OutputStream out = new BufferedOutputStream(raw);
        out.write(b.toString().getBytes(StandardCharsets.ISO_8859_1));
        if (payload != null) {
            out.write(payload);
        }
        out.flush();
    }

    static HttpResponse read(InputStream in, boolean head, long start) throws IOException {
        while (true) {
            String status = line(in);
            if (status == null) {
                throw new EOFException("connection closed before a response");
            }
            String[] parts = status.split(" ", 3);
            if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
                throw new IOException("not an HTTP/1.x response: " + status);
            }
            int code;
            try {
                code = Integer.parseInt(parts[1]);
            } catch (NumberFormatException e) {
                throw new IOException("bad status line: " + status);
            }
            List<String[]> headers = new ArrayList<>();
            int size = 0;
            for (String l = line(in); l != null && !l.isEmpty(); l = line(in)) {
                size += l.length();
                if (size > MAX_HEAD) {
                    throw new IOException("response head over " + MAX_HEAD + " bytes");
                }
                int colon = l.indexOf(':');
                if (colon > 0) {
                    headers.add(new String[] {l.substring(0, colon).trim(), l.substring(colon + 1).trim()});
                }
            }
            String reason = parts.length > 2 ? parts[2] : "";
            if (code >= 100 && code < 200 && code != 101) {
                continue;
            }
            HttpResponse noBody = new HttpResponse(code, reason, headers, new byte[0], 0);
            byte[] body;
            if (head || code == 101 || code == 204 || code == 304) {
                body = new byte[0];
            } else if (noBody.lists("Transfer-Encoding", "chunked")) {
                body = chunked(in);
            } else if (noBody.header("Content-Length") != null) {
                body = fixed(in, Long.parseLong(noBody.header("Content-Length").trim()));
            } else {
                body = untilClose(in);
            }
            return new HttpResponse(code, reason, headers, body, (System.nanoTime() - start) / 1_000_000);
        }
    }

    private static byte[] fixed(InputStream in, long length) throws IOException {
        if (length < 0 || length > MAX_BODY) {
            throw new IOException("Content-Length " + length + " out of range");
        }
        byte[] b = in.readNBytes((int) length);
        if (b.length < length) {
            throw new EOFException("body ended after " + b.length + " of " + length + " bytes");
        }
        return b;
    }

    private static byte[] chunked(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while (true) {
            String size = line(in);
            if (size == null) {
                throw new EOFException("chunked body ended early");
            }
            int semi = size.indexOf(';');
            long n = Long.parseLong((semi < 0 ? size : size.substring(0, semi)).trim(), 16);
            if (n == 0) {
                for (String l = line(in); l != null && !l.isEmpty(); l = line(in)) {
                    // trailers are of no interest here
                }
                return out.toByteArray();
            }
            if (out.size() + n > MAX_BODY) {
                throw new IOException("body over " + MAX_BODY + " bytes");
            }
            out.write(fixed(in, n));
            line(in);
        }
    }

    private static byte[] untilClose(InputStream in) throws IOException {
        return in.readNBytes(MAX_BODY);
    }

    /** A line without its CRLF (or LF), or null at the end of the stream. */
    private static String line(InputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        int c;
        while ((c = in.read()) != -1) {
            if (c == '\n') {
                int n = b.length();
                if (n > 0 && b.charAt(n - 1) == '\r') {
                    b.setLength(n - 1);
                }
                return b.toString();
            }
            if (b.length() > MAX_HEAD) {
                throw new IOException("line over " + MAX_HEAD + " bytes");
            }
            b.append((char) c);
        }
        return b.length() == 0 ? null : b.toString();
    }

    static SSLContext trustingAll() {
        try {
            SSLContext c = SSLContext.getInstance("TLS");
            c.init(null, new TrustManager[] {new X509TrustManager() {
                @Override
                public void checkClientTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public void checkServerTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public X509Certificate[] getAcceptedIssuers() {
                    return new X509Certificate[0];
                }
            }}, new SecureRandom());
            return c;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("no TLS in this JVM: " + e.getMessage(), e);
        }
    }
}
