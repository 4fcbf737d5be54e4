package fulcrum.proxy;

import com.typesafe.config.ConfigFactory;
import fulcrum.balance.TargetGroup;
import fulcrum.config.FulcrumSettings;
import fulcrum.config.TargetGroupSettings;
import fulcrum.http.DecodedRequest;
import fulcrum.http.RequestDecoder;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The exchange's state machine without sockets: a recording client end, and a backend
 * connection that is an {@link EmbeddedChannel} with the real backend codec, leased from a real
 * pool. Each test checks the phase, what reached each side, and that the exchange ended once.
 */
class ExchangeTest {
    private static final InetSocketAddress CLIENT = new InetSocketAddress("127.0.0.1", 40000);

    private TargetGroup group;
    private ListenerContext listener;
    private BackendPool pool;
    private EmbeddedChannel backendChannel;
    private BackendHandler backend;
    private RecordingClient client;
    private final List<ExchangeObserver.ExchangeRecord> records = new ArrayList<>();

    @BeforeEach
    void setUp() {
        FulcrumSettings s = FulcrumSettings.from(ConfigFactory.parseString(
                "fulcrum { listeners = [{ name = t, bind = \"127.0.0.1:0\", default-target-group = app }]\n"
                + "target-groups.app { targets = [\"127.0.0.1:1\"], max-retries = 0, health-check.enabled = false } }"));
        TargetGroupSettings gs = s.targetGroups().get("app");
        group = new TargetGroup(gs, new byte[32]);
        listener = new ListenerContext(s.listeners().get(0), ListenerContext.Router.to(group),
                                       new BackendPools(new Bootstrap()), false);
        listener.observer(new ExchangeObserver() {
            @Override
            public void exchangeEnded(ExchangeRecord r) {
                records.add(r);
            }

            @Override
            public void tunnelClosed(TunnelRecord r) {
            }
        });
        backendChannel = new EmbeddedChannel();
        pool = new BackendPool(backendChannel.eventLoop(), new Bootstrap());
        backend = new BackendHandler(group.snapshot().all().get(0), pool);
        backendChannel.pipeline().addLast(BackendPool.CODEC, new BackendCodec(gs.maxResponseHeaderSize()))
                      .addLast(BackendPool.HANDLER, backend);
        backend.release(8); // an idle connection the exchange will lease
        client = new RecordingClient();
    }

    @AfterEach
    void tearDown() {
        client.releaseAll();
        backendChannel.finishAndReleaseAll();
    }

    private Exchange get(String uri, String... fields) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, uri);
        r.headers().set("Host", "example.com");
        for (int i = 0; i < fields.length; i += 2) {
            r.headers().add(fields[i], fields[i + 1]);
        }
        Exchange ex = new Exchange(client, r);
        ex.start();
        ex.requestContent(LastHttpContent.EMPTY_LAST_CONTENT);
        ex.flushBackend();
        return ex;
    }

    /** What the backend received, as text. */
    private String sentToBackend() {
        StringBuilder b = new StringBuilder();
        Object o;
        while ((o = backendChannel.readOutbound()) != null) {
            ByteBuf buf = (ByteBuf) o;
            b.append(buf.toString(StandardCharsets.ISO_8859_1));
            buf.release();
        }
        return b.toString();
    }

    private void backendSends(String raw) {
        backendChannel.writeInbound(Unpooled.copiedBuffer(raw, StandardCharsets.ISO_8859_1));
    }

    @Test
    void aResponseEndsTheExchangeOnceAndReturnsTheConnectionToThePool() {
        Exchange ex = get("/a");
        assertEquals(Exchange.Phase.AWAITING, ex.phase());
        assertTrue(ex.awaitingResponse());
        assertTrue(sentToBackend().startsWith("GET /a HTTP/1.1\r\n"));
        backendSends("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
        assertEquals(Exchange.Phase.RESPONDING, ex.phase());
        backendSends("ok");
        assertEquals(Exchange.Phase.DONE, ex.phase());
        assertEquals(1, client.done);
        assertEquals(200, client.head().status().code());
        assertEquals("ok", client.body());
        assertFalse(ex.closeClient());
        assertEquals(1, records.size());
        assertEquals(200, records.get(0).status());
        assertSame(backend, pool.pollIdle(group.snapshot().all().get(0), Long.MAX_VALUE),
                   "the connection went back to the pool");
    }

    @Test
    void anObserverThatKeepsNoRecordsIsGivenOneRecordFilledAnewForEachExchange() {
        List<String> seen = new ArrayList<>();
        java.util.Set<ExchangeObserver.ExchangeRecord> instances =
                java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        listener.observer(new ExchangeObserver() {
            @Override
            public void exchangeEnded(ExchangeRecord r) {
                seen.add(r.uri() + " " + r.status() + " " + r.targetStatus());
                instances.add(r);
            }

            @Override
            public void tunnelClosed(TunnelRecord r) {
            }

            @Override
            public boolean keepsRecords() {
                return false;
            }
        });
        Exchange first = get("/a");
        backendSends("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        sentToBackend();
        Exchange second = get("/b");
        backendSends("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        assertEquals(Exchange.Phase.DONE, second.phase());
        assertEquals(List.of("/a 200 200", "/b 404 404"), seen);
        assertEquals(1, instances.size(), "the same record, overwritten");
        assertNull(first.observed(), "a reused record is not kept for a tunnel's log");
    }

    @Test
    void aConnectionSentConnectionCloseIsClosedEvenWhenTheBackendKeepsItOpen() {
        Exchange ex = get("/a", "Connection", "close");
        // The client's own close is hop-by-hop: the target is asked to keep the connection.
        assertFalse(sentToBackend().toLowerCase().contains("connection: close"));
        backendSends("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        assertEquals(Exchange.Phase.DONE, ex.phase());
        assertTrue(ex.closeClient());
        assertTrue(backendChannel.isActive(), "kept: the request did not ask the target to close");
    }

    @Test
    void aRequestForwardedWithConnectionCloseNeverReturnsItsConnectionToThePool() {
        // Decoded for real: an ambiguous field makes the decoder mark the request close-after.
        EmbeddedChannel decoder = new EmbeddedChannel(new RequestDecoder(listener.settings().limits()));
        decoder.writeInbound(Unpooled.copiedBuffer(
                "GET /a HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\n\r\n", StandardCharsets.ISO_8859_1));
        DecodedRequest r = decoder.readInbound();
        assertTrue(r.closeAfter());
        ReferenceCountUtil.release(decoder.readInbound()); // its end
        assertFalse(decoder.finishAndReleaseAll());
        Exchange ex = new Exchange(client, r);
        ex.start();
        ex.requestContent(LastHttpContent.EMPTY_LAST_CONTENT);
        ex.flushBackend();
        assertTrue(sentToBackend().toLowerCase().contains("connection: close"));
        backendSends("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        assertEquals(Exchange.Phase.DONE, ex.phase());
        assertFalse(backendChannel.isActive(), "closed, though the response did not say close");
        assertNull(pool.pollIdle(group.snapshot().all().get(0), Long.MAX_VALUE));
    }

    @Test
    void aBackendThatClosesBeforeAnsweringGetsA502WhenNoRetryIsLeft() {
        Exchange ex = get("/a");
        sentToBackend();
        backendChannel.close();
        assertEquals(Exchange.Phase.DONE, ex.phase());
        assertEquals(502, client.head().status().code());
        assertEquals(1, client.done);
        assertEquals(List.of(502), records.stream().map(ExchangeObserver.ExchangeRecord::status).toList());
    }

    @Test
    void aBackendThatClosesMidResponseClosesTheClientAndEndsOnce() {
        Exchange ex = get("/a");
        backendSends("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
        assertEquals(Exchange.Phase.RESPONDING, ex.phase());
        backendChannel.close();
        assertEquals(Exchange.Phase.DONE, ex.phase());
        assertTrue(ex.closeClient(), "a response cut short can only end with the connection");
        ex.clientClosed(); // the close that follows does not end it again
        assertEquals(1, client.done);
        assertEquals(1, records.size());
        assertEquals(200, records.get(0).status());
    }

    @Test
    void aClientThatLeavesMidResponseClosesTheBackendAndEndsOnce() {
        Exchange ex = get("/a");
        backendSends("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
        ex.clientClosed();
        assertEquals(Exchange.Phase.DONE, ex.phase());
        assertFalse(backendChannel.isActive());
        assertEquals(1, records.size());
    }

    @Test
    void aRejectionWhileAwaitingAnswersItAndClosesTheBackend() {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/upload");
        r.headers().set("Host", "example.com").set("Transfer-Encoding", "chunked");
        Exchange ex = new Exchange(client, r);
        ex.start();
        assertTrue(ex.acceptsBody());
        ex.abort(HttpResponseStatus.BAD_REQUEST);
        assertEquals(Exchange.Phase.DONE, ex.phase());
        assertEquals(400, client.head().status().code());
        assertTrue(ex.closeClient());
        assertFalse(backendChannel.isActive());
        assertEquals(1, client.done);
    }

    @Test
    void aSilentBackendTimesOutWith504() {
        Exchange ex = get("/a");
        long timeout = group.settings().responseTimeout().toNanos();
        assertTrue(ex.checkResponseTimeout(System.nanoTime()) > 0, "not yet");
        assertEquals(Exchange.Phase.AWAITING, ex.phase());
        assertEquals(-1, ex.checkResponseTimeout(System.nanoTime() + timeout + 1));
        assertEquals(Exchange.Phase.DONE, ex.phase());
        assertEquals(504, client.head().status().code());
        assertFalse(backendChannel.isActive());
    }

    @Test
    void aSwitchHandsTheBackendToATunnelInsteadOfThePool() {
        Exchange ex = get("/ws", "Upgrade", "websocket", "Connection", "Upgrade");
        sentToBackend();
        backendSends("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
        assertEquals(Exchange.Phase.DONE, ex.phase());
        assertSame(backend, client.tunnelBackend);
        assertEquals(0, client.done, "a switch ends in the tunnel, not in the next request");
        assertEquals(101, records.get(0).status());
        assertTrue(backendChannel.isActive());
    }

    @Test
    void anUnsolicited101IsABadGateway() {
        Exchange ex = get("/plain");
        backendSends("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
        assertEquals(Exchange.Phase.DONE, ex.phase());
        assertEquals(502, client.head().status().code());
        assertNull(client.tunnelBackend);
    }

    /** A client end that records what the exchange does to it. */
    private final class RecordingClient implements ClientStream {
        final List<Object> written = new ArrayList<>();
        int done;
        BackendHandler tunnelBackend;

        HttpResponse head() {
            HttpResponse last = null;
            for (Object o : written) {
                if (o instanceof HttpResponse r) {
                    last = r;
                }
            }
            return last;
        }

        String body() {
            StringBuilder b = new StringBuilder();
            for (Object o : written) {
                if (o instanceof HttpContent c) {
                    b.append(c.content().toString(StandardCharsets.ISO_8859_1));
                }
            }
            return b.toString();
        }

        void releaseAll() {
            written.forEach(ReferenceCountUtil::release);
        }

        @Override
        public ListenerContext listener() {
            return listener;
        }

        @Override
        public BackendPool pool() {
            return pool;
        }

        @Override
        public InetSocketAddress remote() {
            return CLIENT;
        }

        @Override
        public String clientText() {
            return "127.0.0.1";
        }

        @Override
        public ByteBufAllocator alloc() {
            return ByteBufAllocator.DEFAULT;
        }

        @Override
        public boolean frameResponse(Exchange ex, HttpResponse res) {
            return !ex.clientKeepAlive;
        }

        @Override
        public void write(Object msg) {
            written.add(msg);
        }

        @Override
        public void flush() {
        }

        @Override
        public boolean isWritable() {
            return true;
        }

        @Override
        public void touch() {
        }

        @Override
        public void requestSent(long responseTimeoutNanos) {
        }

        @Override
        public void backendWritabilityChanged() {
        }

        @Override
        public void exchangeDone(Exchange ex) {
            done++;
        }

        @Override
        public void startTunnel(Exchange ex, BackendHandler b) {
            tunnelBackend = b;
        }
    }
}
