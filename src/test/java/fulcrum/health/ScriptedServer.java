package fulcrum.health;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A raw TCP server on 127.0.0.1 that reads each request head and answers with fixed bytes, or
 * never answers at all (a hung server: accepts, reads, stays silent).
 */
final class ScriptedServer implements AutoCloseable {
    private final ServerSocket server;
    private final byte[] answer;
    private final List<String> requests = new CopyOnWriteArrayList<>();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();

    private ScriptedServer(byte[] answer) throws IOException {
        this.answer = answer;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(this::acceptLoop, "scripted-server");
        t.setDaemon(true);
        t.start();
    }

    static ScriptedServer answering(String answer) throws IOException {
        return new ScriptedServer(answer.getBytes(StandardCharsets.ISO_8859_1));
    }

    static ScriptedServer answering(byte[] answer) throws IOException {
        return new ScriptedServer(answer);
    }

    static ScriptedServer hanging() throws IOException {
        return new ScriptedServer(null);
    }

    int port() {
        return server.getLocalPort();
    }

    String address() {
        return "127.0.0.1:" + port();
    }

    /** Request heads received, in order. */
    List<String> requests() {
        return requests;
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                sockets.add(s);
                Thread t = new Thread(() -> serve(s), "scripted-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket s) {
        try (s) {
            InputStream in = s.getInputStream();
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) >= 0) {
                head.write(c);
                byte[] b = head.toByteArray();
                int n = b.length;
                if (n >= 4 && b[n - 4] == '\r' && b[n - 3] == '\n' && b[n - 2] == '\r' && b[n - 1] == '\n') {
                    break;
                }
            }
            requests.add(head.toString(StandardCharsets.ISO_8859_1));
            if (answer == null) {
                while (in.read() >= 0) {
                    // hung: hold the connection until the peer or close() ends it
                }
                return;
            }
            s.getOutputStream().write(answer);
            s.getOutputStream().flush();
            while (in.read() >= 0) {
                // wait for the client to close
            }
        } catch (IOException ignored) {
            // the client closed first: expected for a probe that stops reading after the status
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : sockets) {
            s.close();
        }
    }
}
