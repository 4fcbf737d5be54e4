package fulcrum.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** A plain socket speaking raw HTTP bytes, for what real clients refuse to send. */
public final class RawClient implements AutoCloseable {
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    public RawClient(int port) throws IOException {
        this(connect(port));
    }

    /** Over an already connected socket (a TLS one, say). */
    public RawClient(Socket socket) throws IOException {
        this.socket = socket;
        socket.setSoTimeout(10_000);
        in = socket.getInputStream();
        out = socket.getOutputStream();
    }

    private static Socket connect(int port) throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        return s;
    }

    public RawClient send(String raw) throws IOException {
        out.write(raw.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        return this;
    }

    /** Reads one response: head, then a Content-Length or chunked body (or none for HEAD/204/304). */
    public Response read(boolean headRequest) throws IOException {
        String head = readHead();
        if (head == null) {
            return null;
        }
        int status = Integer.parseInt(head.substring(9, 12));
        String lower = head.toLowerCase(java.util.Locale.ROOT);
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        boolean bodyless = headRequest || status == 204 || status == 304 || status / 100 == 1;
        if (!bodyless) {
            long len = header(lower, "content-length");
            if (lower.contains("\ntransfer-encoding: chunked")) {
                while (true) {
                    String line = readLine();
                    int semi = line.indexOf(';');
                    int size = Integer.parseInt((semi < 0 ? line : line.substring(0, semi)).trim(), 16);
                    if (size == 0) {
                        while (!readLine().isEmpty()) {
                            // trailers
                        }
                        break;
                    }
                    body.write(in.readNBytes(size));
                    readLine();
                }
            } else if (len >= 0) {
                body.write(in.readNBytes((int) len));
            } else {
                body.write(in.readAllBytes());
            }
        }
        return new Response(status, head, body.toString(StandardCharsets.ISO_8859_1));
    }

    public Response read() throws IOException {
        return read(false);
    }

    /** True when the server closed the connection (reads end of stream). */
    public boolean closedByPeer() throws IOException {
        try {
            return in.read() < 0;
        } catch (java.net.SocketException e) {
            return true;
        }
    }

    private static long header(String lowerHead, String name) {
        int i = lowerHead.indexOf("\n" + name + ":");
        if (i < 0) {
            return -1;
        }
        int end = lowerHead.indexOf('\r', i + 1);
        return Long.parseLong(lowerHead.substring(i + name.length() + 2, end).trim());
    }

    private String readHead() throws IOException {
        StringBuilder b = new StringBuilder();
        String line;
        while (true) {
            line = readLine();
            if (line == null) {
                return b.length() == 0 ? null : b.toString();
            }
            if (line.isEmpty()) {
                return b.toString();
            }
            b.append(line).append("\r\n");
        }
    }

    private String readLine() throws IOException {
        StringBuilder b = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0) {
            if (c == '\n') {
                int n = b.length();
                if (n > 0 && b.charAt(n - 1) == '\r') {
                    b.setLength(n - 1);
                }
                return b.toString();
            }
            b.append((char) c);
        }
        return b.length() == 0 ? null : b.toString();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }

    /** A response as read off the wire. */
    public record Response(int status, String head, String body) {
        public String header(String name) {
            for (String line : head.split("\r\n")) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).equalsIgnoreCase(name)) {
                    return line.substring(colon + 1).trim();
                }
            }
            return null;
        }
    }
}
