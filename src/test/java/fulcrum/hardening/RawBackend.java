package fulcrum.hardening;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A backend made of a plain server socket and a script per connection, for the behaviours real
 * servers do not offer (garbage, lies about lengths, silence). Every byte that reaches it is
 * recorded, and requests are framed strictly as RFC 9112 says: a head, then a Content-Length or
 * chunked body, never both.
 */
final class RawBackend implements AutoCloseable {
    static final String OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    /** What one connection does. */
    interface Script {
        void serve(Conn c) throws IOException;
    }

    /** Answers every request with {@link #OK} until the connection ends. */
    static final Script RECORDER = c -> {
        while (c.readRequest() != null) {
            c.write(OK);
        }
    };

    private final ServerSocket server;
    private final Script script;
    private final AtomicInteger connections = new AtomicInteger();
    private final List<Conn> conns = new CopyOnWriteArrayList<>();
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final List<String> violations = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    RawBackend(Script script) throws IOException {
        this.script = script;
        this.server = new ServerSocket(0, 256, InetAddress.getLoopbackAddress());
        this.acceptor = new Thread(this::accept, "raw-backend-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    String address() {
        return "127.0.0.1:" + server.getLocalPort();
    }

    int connections() {
        return connections.get();
    }

    List<Request> requests() {
        return List.copyOf(requests);
    }

    /** Framing errors seen (a request with both Content-Length and chunked, a bad chunk...). */
    List<String> violations() {
        return List.copyOf(violations);
    }

    /** Every byte received on every connection. */
    long bytesReceived() {
        long n = 0;
        for (Conn c : conns) {
            n += c.received.size();
        }
        return n;
    }

    /** Bytes received that are not part of a complete, framed request. */
    long unframedBytes() {
        long framed = 0;
        for (Request r : requests) {
            framed += r.raw.length;
        }
        return bytesReceived() - framed;
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                connections.incrementAndGet();
                Conn c = new Conn(s, connections.get());
                conns.add(c);
                Thread t = new Thread(() -> run(c), "raw-backend-" + c.number);
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void run(Conn c) {
        try (c.socket) {
            script.serve(c);
        } catch (IOException e) {
            // the peer went away
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Conn c : conns) {
            c.socket.close();
        }
    }

    /** One request as the backend framed it. */
    record Request(int connection, String head, byte[] body, byte[] raw) {
        String requestLine() {
            return head.substring(0, head.indexOf("\r\n"));
        }

        String header(String name) {
            for (String line : head.split("\r\n")) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).equalsIgnoreCase(name)) {
                    return line.substring(colon + 1).trim();
                }
            }
            return null;
        }

        int count(String name) {
            int n = 0;
            for (String line : head.split("\r\n")) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).equalsIgnoreCase(name)) {
                    n++;
                }
            }
            return n;
        }

        String bodyText() {
            return new String(body, StandardCharsets.ISO_8859_1);
        }
    }

    /** One accepted connection. */
    final class Conn {
        final Socket socket;
        final int number;
        final ByteArrayOutputStream received = new SyncBytes();
        private final InputStream in;
        private final OutputStream out;
        private ByteArrayOutputStream current;

        Conn(Socket socket, int number) throws IOException {
            this.socket = socket;
            this.number = number;
            socket.setSoTimeout(30_000);
            this.in = socket.getInputStream();
            this.out = socket.getOutputStream();
        }

        private int read() throws IOException {
            int b = in.read();
            if (b >= 0) {
                received.write(b);
                if (current != null) {
                    current.write(b);
                }
            }
            return b;
        }

        private String line() throws IOException {
            StringBuilder s = new StringBuilder();
            int b;
            while ((b = read()) >= 0) {
                if (b == '\n') {
                    int n = s.length();
                    if (n == 0 || s.charAt(n - 1) != '\r') {
                        throw violation("bare LF in " + s);
                    }
                    s.setLength(n - 1);
                    return s.toString();
                }
                s.append((char) b);
            }
            return null;
        }

        private IOException violation(String what) {
            violations.add("connection " + number + ": " + what);
            return new IOException(what);
        }

        /** The next request, null at end of stream; a framing error is recorded and ends the connection. */
        Request readRequest() throws IOException {
            return readRequest(true);
        }

        /** With {@code body} false only the head is read (the body is left unread on the socket). */
        Request readRequest(boolean readBody) throws IOException {
            current = new ByteArrayOutputStream();
            StringBuilder head = new StringBuilder();
            String line = line();
            if (line == null) {
                return null;
            }
            if (line.isEmpty()) {
                throw violation("empty line before a request");
            }
            long length = -1;
            boolean chunked = false;
            String codings = null;
            head.append(line).append("\r\n");
            while (true) {
                line = line();
                if (line == null) {
                    throw violation("end of stream in a head: " + head);
                }
                if (line.isEmpty()) {
                    break;
                }
                head.append(line).append("\r\n");
                int colon = line.indexOf(':');
                if (colon <= 0 || line.charAt(colon - 1) == ' ' || line.charAt(0) == ' ' || line.charAt(0) == '\t') {
                    throw violation("bad field line " + line);
                }
                String name = line.substring(0, colon).toLowerCase(Locale.ROOT);
                String value = line.substring(colon + 1).trim();
                if (name.equals("content-length")) {
                    if (length >= 0 || !value.matches("[0-9]{1,15}")) {
                        throw violation("bad or repeated content-length " + value);
                    }
                    length = Long.parseLong(value);
                } else if (name.equals("transfer-encoding")) {
                    codings = codings == null ? value : codings + ", " + value;
                }
            }
            if (codings != null) {
                // RFC 9112 6.1: chunked exactly once, as the final coding.
                String[] c = codings.toLowerCase(Locale.ROOT).split("\\s*,\\s*");
                for (int i = 0; i < c.length; i++) {
                    if (c[i].equals("chunked") != (i == c.length - 1)) {
                        throw violation("transfer-encoding without chunked last, exactly once: " + codings);
                    }
                }
                chunked = true;
            }
            if (chunked && length >= 0) {
                throw violation("both content-length and chunked");
            }
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            if (!readBody) {
                length = 0;
                chunked = false;
            }
            if (chunked) {
                while (true) {
                    String size = line();
                    if (size == null || !size.matches("[0-9a-fA-F]{1,8}")) {
                        throw violation("bad chunk size " + size);
                    }
                    int n = Integer.parseInt(size, 16);
                    if (n == 0) {
                        break;
                    }
                    for (int i = 0; i < n; i++) {
                        int b = read();
                        if (b < 0) {
                            throw violation("end of stream in a chunk");
                        }
                        body.write(b);
                    }
                    if (!"".equals(line())) {
                        throw violation("chunk data longer than its size");
                    }
                }
                String trailer;
                while (!(trailer = line()).isEmpty()) {
                    head.append("trailer: ").append(trailer).append("\r\n");
                }
            } else {
                for (long i = 0; i < Math.max(0, length); i++) {
                    int b = read();
                    if (b < 0) {
                        throw violation("end of stream in a body");
                    }
                    body.write(b);
                }
            }
            Request r = new Request(number, head.toString(), body.toByteArray(), current.toByteArray());
            current = null;
            requests.add(r);
            return r;
        }

        void write(String s) throws IOException {
            out.write(s.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
        }

        void close() throws IOException {
            socket.close();
        }
    }

    /** Written by a connection's thread, read by the test's. */
    private static final class SyncBytes extends ByteArrayOutputStream {
        @Override
        public synchronized void write(int b) {
            super.write(b);
        }

        @Override
        public synchronized int size() {
            return super.size();
        }
    }

    static List<Request> since(List<Request> all, int from) {
        return new ArrayList<>(all.subList(from, all.size()));
    }
}
