package fulcrum.hardening;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A backend for thousands of connections on one thread (a thread per connection would not do):
 * a request whose line contains {@code /big} is answered {@code bigBytes} bytes as fast as the
 * connection takes them; one to {@code /upload} is never answered, and what follows it is read
 * and dropped (a body that takes its time); any other request is answered "ok". Keep-alive; it counts the bytes it wrote, so a
 * test can tell when every connection has stalled. Its buffers are plain NIO ones, never Netty's
 * pool, so they do not count in what the test measures of Fulcrum.
 */
final class BulkBackend implements AutoCloseable {
    private static final byte[] OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(StandardCharsets.US_ASCII);

    private final long bigBytes;
    private final int sendBuffer;
    private final ServerSocketChannel server;
    private final Selector selector;
    private final ByteBuffer filler = ByteBuffer.allocateDirect(64 * 1024);
    private final AtomicLong written = new AtomicLong();
    private final AtomicLong started = new AtomicLong();
    private final Thread loop;
    private volatile boolean closed;

    /** Per connection: the request bytes read so far, and what is left of the response. */
    private static final class Conn {
        final StringBuilder head = new StringBuilder();
        ByteBuffer prefix;
        long bodyLeft;
        boolean sink;
    }

    BulkBackend(long bigBytes, int sendBuffer) throws IOException {
        this.bigBytes = bigBytes;
        this.sendBuffer = sendBuffer;
        while (filler.hasRemaining()) {
            filler.put((byte) 'x');
        }
        filler.flip();
        server = ServerSocketChannel.open();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 4096);
        server.configureBlocking(false);
        selector = Selector.open();
        server.register(selector, SelectionKey.OP_ACCEPT);
        loop = new Thread(this::run, "bulk-backend");
        loop.setDaemon(true);
        loop.start();
    }

    String address() throws IOException {
        return "127.0.0.1:" + ((InetSocketAddress) server.getLocalAddress()).getPort();
    }

    /** Responses begun so far. */
    long started() {
        return started.get();
    }

    /** Bytes written to every connection so far. */
    long written() {
        return written.get();
    }

    private void run() {
        ByteBuffer in = ByteBuffer.allocate(8192);
        try {
            while (!closed) {
                selector.select(100);
                for (SelectionKey k : selector.selectedKeys()) {
                    if (!k.isValid()) {
                        continue;
                    }
                    if (k.isAcceptable()) {
                        SocketChannel ch;
                        while ((ch = server.accept()) != null) {
                            ch.configureBlocking(false);
                            if (sendBuffer > 0) {
                                ch.setOption(java.net.StandardSocketOptions.SO_SNDBUF, sendBuffer);
                            }
                            ch.register(selector, SelectionKey.OP_READ, new Conn());
                        }
                        continue;
                    }
                    try {
                        serve(k, in);
                    } catch (IOException e) {
                        k.channel().close();
                    }
                }
                selector.selectedKeys().clear();
            }
        } catch (IOException e) {
            // closed under the loop
        }
    }

    private void serve(SelectionKey k, ByteBuffer in) throws IOException {
        SocketChannel ch = (SocketChannel) k.channel();
        Conn c = (Conn) k.attachment();
        if (k.isReadable()) {
            in.clear();
            int n = ch.read(in);
            if (n < 0) {
                ch.close();
                return;
            }
            if (c.sink) {
                return;
            }
            c.head.append(new String(in.array(), 0, n, StandardCharsets.ISO_8859_1));
            if (c.head.indexOf("/upload") >= 0) {
                c.sink = true;
                return;
            }
            int end = c.head.indexOf("\r\n\r\n");
            if (end >= 0 && c.prefix == null) {
                boolean big = c.head.substring(0, c.head.indexOf("\r\n")).contains("/big");
                c.head.delete(0, end + 4);
                c.prefix = ByteBuffer.wrap(big ? ("HTTP/1.1 200 OK\r\nContent-Length: " + bigBytes + "\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII) : OK);
                c.bodyLeft = big ? bigBytes : 0;
                started.incrementAndGet();
            }
        }
        if (c.prefix == null) {
            return;
        }
        long before = c.bodyLeft + c.prefix.remaining();
        ch.write(c.prefix);
        while (!c.prefix.hasRemaining() && c.bodyLeft > 0) {
            ByteBuffer b = filler.duplicate();
            b.limit((int) Math.min(b.capacity(), c.bodyLeft));
            int n = ch.write(b);
            c.bodyLeft -= n;
            if (n == 0) {
                break;
            }
        }
        written.addAndGet(before - c.bodyLeft - c.prefix.remaining());
        if (c.prefix.hasRemaining() || c.bodyLeft > 0) {
            k.interestOps(SelectionKey.OP_WRITE);
        } else {
            c.prefix = null;
            k.interestOps(SelectionKey.OP_READ);
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        selector.wakeup();
        try {
            loop.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (SelectionKey k : selector.keys()) {
            k.channel().close();
        }
        selector.close();
        server.close();
    }
}
