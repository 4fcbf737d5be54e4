package fulcrum.jmh;

import com.typesafe.config.ConfigFactory;
import fulcrum.balance.LbCookie;
import fulcrum.balance.Snapshot;
import fulcrum.balance.Target;
import fulcrum.balance.TargetGroup;
import fulcrum.config.FulcrumSettings;
import fulcrum.config.ListenerSettings;
import fulcrum.http.DesyncMode;
import fulcrum.http.ForwardingHeaders;
import fulcrum.http.ResponseDecoder;
import fulcrum.http.RequestDecoder;
import fulcrum.http.RequestLimits;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The pure-Java pieces on the per-request path, one operation each. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class HotPathBenchmark {
    private static final byte[] REQUEST = ("GET /socket.io/?EIO=4&transport=polling&t=P1x2y3z HTTP/1.1\r\n"
            + "Host: chat.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0\r\n"
            + "Accept: */*\r\nAccept-Language: en-US,en;q=0.9\r\nCookie: FULCRUM=abcdefghijklmnopqrstuvwxyz012345\r\n"
            + "Connection: keep-alive\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
    /** What nginx answers with a 100-byte body, as in scripts/bench. */
    private static final byte[] RESPONSE = ("HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
            + "Date: Wed, 25 Nov 2026 05:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n"
            + "Connection: keep-alive\r\n\r\n" + "x".repeat(100)).getBytes(StandardCharsets.ISO_8859_1);

    /** The same 100 bytes in four chunks, as a streaming backend sends them. */
    private static final byte[] CHUNKED_RESPONSE = ("HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
            + "Date: Wed, 25 Nov 2026 05:00:00 GMT\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
            + "Connection: keep-alive\r\n\r\n" + ("19\r\n" + "x".repeat(25) + "\r\n").repeat(4) + "0\r\n\r\n")
            .getBytes(StandardCharsets.ISO_8859_1);
    /** A chunked upload: four chunks, one with an extension. */
    private static final byte[] CHUNKED_REQUEST = ("POST /upload HTTP/1.1\r\nHost: chat.example.com\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n" + "19;n=1\r\n" + "x".repeat(25) + "\r\n"
            + ("19\r\n" + "x".repeat(25) + "\r\n").repeat(3) + "0\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);

    private TargetGroup group;
    private Snapshot snapshot;
    private LbCookie cookie;
    private List<String> cookieHeader;
    private ForwardingHeaders forwarding;
    private EmbeddedChannel decoder;
    private EmbeddedChannel responseDecoder;
    private final InetSocketAddress client = new InetSocketAddress("203.0.113.9", 50000);
    /** Made once per connection by the proxy, so once here. */
    private final String clientText = ForwardingHeaders.clientText(client);

    @Setup
    public void setUp() {
        FulcrumSettings s = FulcrumSettings.from(ConfigFactory.parseString(
                "fulcrum { listeners = [{ name = l, bind = \"127.0.0.1:8080\", default-target-group = g }]\n"
                + "target-groups.g { targets = [\"10.0.0.1:3000\", \"10.0.0.2:3000\", \"10.0.0.3:3000\"]\n"
                + "stickiness.enabled = true } }"));
        group = new TargetGroup(s.targetGroups().get("g"), new byte[32]);
        snapshot = group.snapshot();
        cookie = group.cookie();
        Target t = snapshot.all().get(1);
        cookieHeader = List.of("other=1; " + cookie.setCookie(t, false, System.currentTimeMillis()).split(";")[0]);
        ListenerSettings l = s.listeners().get(0);
        forwarding = new ForwardingHeaders(l.forwardedHeaders(), false, 8080);
        decoder = new EmbeddedChannel(new RequestDecoder(
                new RequestLimits(16384, 65536, 100, 0, 4096, DesyncMode.DEFENSIVE)));
        responseDecoder = new EmbeddedChannel(new ResponseDecoder(32768));
    }

    @TearDown
    public void tearDown() {
        decoder.finishAndReleaseAll();
        responseDecoder.finishAndReleaseAll();
    }

    @Benchmark
    public Target roundRobinSelect() {
        return group.selector().select(snapshot, null);
    }

    @Benchmark
    public LbCookie.Match cookieValidate() {
        return cookie.match(cookieHeader, snapshot, System.currentTimeMillis());
    }

    @Benchmark
    public String cookieSign() {
        return cookie.setCookie(snapshot.all().get(0), false, System.currentTimeMillis());
    }

    @Benchmark
    public HttpRequest forwardingHeaders() {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/socket.io/?EIO=4");
        r.headers().set("Host", "chat.example.com").set("Connection", "keep-alive")
         .set("User-Agent", "bench").set("X-Forwarded-For", "198.51.100.1");
        forwarding.request(r, client, clientText, false);
        return r;
    }

    @Benchmark
    public void decodeRequest(Blackhole bh) {
        ByteBuf in = Unpooled.wrappedBuffer(REQUEST);
        decoder.writeInbound(in);
        Object m;
        while ((m = decoder.readInbound()) != null) {
            bh.consume(m);
            ReferenceCountUtil.release(m);
        }
    }

    @Benchmark
    public void decodeResponse(Blackhole bh) {
        responseDecoder.writeInbound(Unpooled.wrappedBuffer(RESPONSE));
        Object m;
        while ((m = responseDecoder.readInbound()) != null) {
            bh.consume(m);
            ReferenceCountUtil.release(m);
        }
    }

    @Benchmark
    public void decodeChunkedRequest(Blackhole bh) {
        decoder.writeInbound(Unpooled.wrappedBuffer(CHUNKED_REQUEST));
        Object m;
        while ((m = decoder.readInbound()) != null) {
            bh.consume(m);
            ReferenceCountUtil.release(m);
        }
    }

    @Benchmark
    public void decodeChunkedResponse(Blackhole bh) {
        responseDecoder.writeInbound(Unpooled.wrappedBuffer(CHUNKED_RESPONSE));
        Object m;
        while ((m = responseDecoder.readInbound()) != null) {
            bh.consume(m);
            ReferenceCountUtil.release(m);
        }
    }
}
