package fulcrum.diagnose;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;

/** The client end of an RFC 6455 connection: masked text frames out, messages in, pings answered. */
final class WebSocket implements AutoCloseable {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    private static final int MAX_MESSAGE = 4 * 1024 * 1024;

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    WebSocket(Socket socket, InputStream in) throws IOException {
        this.socket = socket;
        this.in = in;
        this.out = socket.getOutputStream();
    }

    static String newKey() {
        byte[] k = new byte[16];
        RANDOM.nextBytes(k);
        return Base64.getEncoder().encodeToString(k);
    }

    /** The Sec-WebSocket-Accept a server must answer {@code key} with. */
    static String accept(String key) {
        try {
            byte[] sha = MessageDigest.getInstance("SHA-1").digest((key + GUID).getBytes(StandardCharsets.US_ASCII));
            return Base64.getEncoder().encodeToString(sha);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Thrown when the peer closed: a close frame (its code) or the connection's end (code 1006). */
    static final class Closed extends IOException {
        final int code;

        Closed(int code, String message) {
            super(message);
            this.code = code;
        }
    }

    void send(String text) throws IOException {
        frame(0x1, text.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * The next text message, waiting at most {@code timeoutMillis}.
     *
     * @throws SocketTimeoutException when none came in time
     * @throws Closed when the peer closed
     */
    String receive(long timeoutMillis) throws IOException {
        socket.setSoTimeout((int) Math.max(1, timeoutMillis));
        ByteArrayOutputStream message = new ByteArrayOutputStream();
        while (true) {
            int b0 = in.read();
            if (b0 == -1) {
                throw new Closed(1006, "connection closed without a close frame");
            }
            int b1 = readByte();
            long len = b1 & 0x7f;
            if (len == 126) {
                len = (readByte() << 8) | readByte();
            } else if (len == 127) {
                len = 0;
                for (int i = 0; i < 8; i++) {
                    len = (len << 8) | readByte();
                }
            }
            if (len > MAX_MESSAGE || message.size() + len > MAX_MESSAGE) {
                throw new IOException("message over " + MAX_MESSAGE + " bytes");
            }
            byte[] mask = (b1 & 0x80) != 0 ? in.readNBytes(4) : null;
            byte[] payload = in.readNBytes((int) len);
            if (payload.length < len) {
                throw new Closed(1006, "connection closed inside a frame");
            }
            if (mask != null) {
                for (int i = 0; i < payload.length; i++) {
                    payload[i] ^= mask[i & 3];
                }
            }
            int opcode = b0 & 0x0f;
            switch (opcode) {
                case 0x8 -> {
                    int code = payload.length >= 2 ? ((payload[0] & 0xff) << 8) | (payload[1] & 0xff) : 1005;
                    throw new Closed(code, "close frame " + code);
                }
                case 0x9 -> frame(0xA, payload);
                case 0xA -> {
                }
                default -> {
                    message.write(payload);
                    if ((b0 & 0x80) != 0) {
                        return message.toString(StandardCharsets.UTF_8);
                    }
                }
            }
        }
    }

    private int readByte() throws IOException {
        int b = in.read();
        if (b == -1) {
            throw new EOFException("connection closed inside a frame");
        }
        return b;
    }

    private synchronized void frame(int opcode, byte[] payload) throws IOException {
        ByteArrayOutputStream f = new ByteArrayOutputStream(payload.length + 14);
        f.write(0x80 | opcode);
        if (payload.length < 126) {
            f.write(0x80 | payload.length);
        } else if (payload.length < 65536) {
            f.write(0x80 | 126);
            f.write(payload.length >> 8);
            f.write(payload.length);
        } else {
            f.write(0x80 | 127);
            for (int i = 7; i >= 0; i--) {
                f.write((int) ((long) payload.length >> (8 * i)));
            }
        }
        byte[] mask = new byte[4];
        RANDOM.nextBytes(mask);
        f.write(mask);
        for (int i = 0; i < payload.length; i++) {
            f.write(payload[i] ^ mask[i & 3]);
        }
        out.write(f.toByteArray());
        out.flush();
    }

    /** A close frame (1000), then the connection; errors are of no interest at this point. */
    @Override
    public void close() {
        try {
            frame(0x8, new byte[] {0x03, (byte) 0xe8});
        } catch (IOException ignored) {
            // the peer may be gone already
        }
        try {
            socket.close();
        } catch (IOException ignored) {
            // nothing left to do
        }
    }
}
